import Addresses

/// A complete, self-contained snapshot of the virtual topology: every object
/// of every type, by id.
///
/// This is the read-only view the simulator works on and what `midgectl`
/// builds from a topology file before writing it to the NSDB. It is a plain
/// value: copying it is cheap (copy-on-write dictionaries) and nothing in it
/// changes behind the holder's back.
///
/// (Named `TopologySnapshot`, not `Topology`, so that `Topology.X` always
/// names a type of the module.)
public struct TopologySnapshot: Hashable, Sendable, Codable {
  public var hosts: [ID: Host]
  public var tunnelZones: [ID: TunnelZone]
  public var bridges: [ID: Bridge]
  public var routers: [ID: Router]
  public var ports: [ID: Port]
  public var routes: [ID: Route]
  public var chains: [ID: Chain]
  public var rules: [ID: Rule]
  public var portGroups: [ID: PortGroup]
  public var ipAddrGroups: [ID: IPAddrGroup]
  public var dhcps: [ID: Dhcp]

  /// An empty topology.
  public init() {
    hosts = [:]
    tunnelZones = [:]
    bridges = [:]
    routers = [:]
    ports = [:]
    routes = [:]
    chains = [:]
    rules = [:]
    portGroups = [:]
    ipAddrGroups = [:]
    dhcps = [:]
  }

  /// The object of type `T` with this id, if present.
  public subscript<T: ModelObject>(_ type: T.Type, id id: ID) -> T? {
    self[keyPath: T.snapshotKeyPath][id]
  }

  /// Adds `object`, replacing any object of the same type and id.
  public mutating func insert<T: ModelObject>(_ object: T) {
    self[keyPath: T.snapshotKeyPath][object.id] = object
  }

  /// Removes and returns the object of type `T` with this id. References to
  /// it elsewhere are left alone (`validate()` will report them); keeping
  /// both sides of a binding in step is the NSDB's job.
  @discardableResult
  public mutating func remove<T: ModelObject>(_ type: T.Type, id: ID) -> T? {
    self[keyPath: T.snapshotKeyPath].removeValue(forKey: id)
  }

  /// Whether an object of the given type and id is present.
  public func contains(_ type: ModelType, id: ID) -> Bool {
    switch type {
    case .host: return hosts[id] != nil
    case .tunnelZone: return tunnelZones[id] != nil
    case .bridge: return bridges[id] != nil
    case .router: return routers[id] != nil
    case .port: return ports[id] != nil
    case .route: return routes[id] != nil
    case .chain: return chains[id] != nil
    case .rule: return rules[id] != nil
    case .portGroup: return portGroups[id] != nil
    case .ipAddrGroup: return ipAddrGroups[id] != nil
    case .dhcp: return dhcps[id] != nil
    }
  }

  /// The ids of all objects of one type, sorted (a deterministic order).
  public func ids(of type: ModelType) -> [ID] {
    switch type {
    case .host: return hosts.keys.sorted()
    case .tunnelZone: return tunnelZones.keys.sorted()
    case .bridge: return bridges.keys.sorted()
    case .router: return routers.keys.sorted()
    case .port: return ports.keys.sorted()
    case .route: return routes.keys.sorted()
    case .chain: return chains.keys.sorted()
    case .rule: return rules.keys.sorted()
    case .portGroup: return portGroups.keys.sorted()
    case .ipAddrGroup: return ipAddrGroups.keys.sorted()
    case .dhcp: return dhcps.keys.sorted()
    }
  }

  /// Total number of objects of all types.
  public var count: Int {
    hosts.count + tunnelZones.count + bridges.count + routers.count + ports.count + routes.count
      + chains.count + rules.count + portGroups.count + ipAddrGroups.count + dhcps.count
  }

  /// Address-group membership as sets, ready for
  /// `MatchContext.useAddressGroups(_:)`; build once per snapshot.
  public var ipAddrGroupMembership: [ID: Set<IPv4Address>] {
    ipAddrGroups.mapValues { Set($0.addresses) }
  }
}
