import Simulation
import Topology

/// One change to the agent's copy of the topology, as an NSDB observer delivered it.
public enum TopologyChange: Sendable {
  /// An object was created or changed.
  case upsert(any ModelObject)
  /// An object was deleted.
  case delete(ModelType, ID)

  /// The type and id of the object changed.
  public var key: (type: ModelType, id: ID) {
    switch self {
    case .upsert(let object): return (Swift.type(of: object).modelType, object.id)
    case .delete(let type, let id): return (type, id)
    }
  }
}

extension TopologySnapshot {
  /// The object of `type` with this id, if present.
  public func object(_ type: ModelType, _ id: ID) -> (any ModelObject)? {
    switch type {
    case .host: return hosts[id]
    case .tunnelZone: return tunnelZones[id]
    case .bridge: return bridges[id]
    case .router: return routers[id]
    case .port: return ports[id]
    case .route: return routes[id]
    case .chain: return chains[id]
    case .rule: return rules[id]
    case .portGroup: return portGroups[id]
    case .ipAddrGroup: return ipAddrGroups[id]
    case .dhcp: return dhcps[id]
    }
  }

  /// Applies `change` and returns the object it replaced or removed (nil if none).
  @discardableResult
  public mutating func apply(_ change: TopologyChange) -> (any ModelObject)? {
    let (type, id) = change.key
    let old = object(type, id)
    switch change {
    case .upsert(let object): insertAny(object)
    case .delete:
      switch type {
      case .host: hosts[id] = nil
      case .tunnelZone: tunnelZones[id] = nil
      case .bridge: bridges[id] = nil
      case .router: routers[id] = nil
      case .port: ports[id] = nil
      case .route: routes[id] = nil
      case .chain: chains[id] = nil
      case .rule: rules[id] = nil
      case .portGroup: portGroups[id] = nil
      case .ipAddrGroup: ipAddrGroups[id] = nil
      case .dhcp: dhcps[id] = nil
      }
    }
    return old
  }

  private mutating func insertAny<T: ModelObject>(_ object: T) { insert(object) }
}

/// Which flows a topology change can affect: the simulator's tags of the object before
/// and after the change. Pure, so the rules are tested on their own.
///
/// The rules follow what the simulator tags (`Simulation.FlowTag`): a device's flows carry
/// its `.device` tag, a port's its `.port` tag, a chain's its `.chain` tag. Objects the
/// simulator does not tag are mapped to what uses them: a rule to its chain, a route to
/// its router and itself, a DHCP subnet to its bridge, a port group and an address group
/// to themselves and (for port groups) to the member ports. A port change also touches its
/// device, because adding or removing a port changes where the device floods.
public enum Invalidation {
  /// The tags to invalidate when `old` becomes `new` (either may be nil).
  public static func tags(old: (any ModelObject)?, new: (any ModelObject)?) -> [FlowTag] {
    // A chain whose back-references changed (a port started or stopped using it as a
    // filter) evaluates exactly as before; the port's own change invalidates its flows.
    if let old = old as? Chain, let new = new as? Chain, old.id == new.id, old.name == new.name,
      old.ruleIds == new.ruleIds
    {
      return []
    }
    var tags: [FlowTag] = []
    for object in [old, new] {
      guard let object else { continue }
      tags += self.tags(of: object)
    }
    var seen = Set<FlowTag>()
    return tags.filter { seen.insert($0).inserted }
  }

  /// The tags of the flows that depend on `object` as it is.
  public static func tags(of object: any ModelObject) -> [FlowTag] {
    switch object {
    case let bridge as Bridge: return [.device(bridge.id)]
    case let router as Router: return [.device(router.id)]
    case let port as Port:
      var tags: [FlowTag] = [.port(port.id), .device(port.device.id)]
      if let peer = port.peerId { tags.append(.port(peer)) }
      return tags
    case let route as Route: return [.route(route.id), .device(route.routerId)]
    case let chain as Chain: return [.chain(chain.id)]
    case let rule as Rule: return [.chain(rule.chainId)]
    case let group as PortGroup: return [.portGroup(group.id)] + group.portIds.map { .port($0) }
    case let group as IPAddrGroup: return [.ipAddrGroup(group.id)]
    case let dhcp as Dhcp: return [.device(dhcp.bridgeId)]
    default: return []  // hosts and tunnel zones: handled through port activity
    }
  }
}
