import Topology

/// Where everything lives in ZooKeeper, under a configurable root
/// (default `/midge`):
///
///     <root>/v1/models/<Type>/<id>          one object (protobuf, LZ4 above a threshold)
///     <root>/v1/state/Host/<id>/alive        ephemeral: the host is up
///     <root>/v1/state/Host/<id>/lease        ephemeral: version 0 while the host may
///                                            serve gateway ports, > 0 once fenced
///     <root>/v1/state/Host/<id>/interfaces   the host's interfaces
///     <root>/v1/state/Port/<id>/active       ephemeral: serving host + tunnel key
///     <root>/v1/state/Port/<id>/routes       ephemeral: learned routes (one encoded list)
///     <root>/v1/state/Bridge/<id>/mac_table/<vlan>   state table
///     <root>/v1/state/Bridge/<id>/ip4_mac_table      state table
///     <root>/v1/state/Router/<id>/arp_table          state table
///     <root>/v1/election/<name>              leader-election candidates
public struct NSDBPaths: Sendable, Hashable {
  public let root: String

  public init(root: String = "/midge") {
    var root = root
    while root.count > 1 && root.hasSuffix("/") { root.removeLast() }
    self.root = root
  }

  public var version: String { root + "/v1" }
  public var models: String { version + "/models" }
  public var state: String { version + "/state" }
  public var election: String { version + "/election" }
  /// The public halves of a secured NSDB's identities (`NSDBIdentities`).
  public var identities: String { version + "/identities" }

  public func models(_ type: ModelType) -> String { models + "/" + type.rawValue }
  public func object(_ type: ModelType, _ id: ID) -> String { models(type) + "/" + id.description }
  public func state(_ type: ModelType, _ id: ID) -> String {
    state + "/" + type.rawValue + "/" + id.description
  }

  public func hostAlive(_ host: ID) -> String { state(.host, host) + "/alive" }
  public func hostLease(_ host: ID) -> String { state(.host, host) + "/lease" }
  public func hostInterfaces(_ host: ID) -> String { state(.host, host) + "/interfaces" }
  public func portActive(_ port: ID) -> String { state(.port, port) + "/active" }
  public func portRoutes(_ port: ID) -> String { state(.port, port) + "/routes" }
  public func macTable(bridge: ID, vlan: UInt16) -> String {
    state(.bridge, bridge) + "/mac_table/\(vlan)"
  }
  public func ip4MacTable(bridge: ID) -> String { state(.bridge, bridge) + "/ip4_mac_table" }
  public func arpTable(router: ID) -> String { state(.router, router) + "/arp_table" }
  public func election(_ name: String) -> String { election + "/" + name }
  /// Source-NAT port-block leases: `nat/<address>/<block>`, ephemeral, holding the host id.
  public var natLeases: String { state + "/nat" }
  public func natLeases(_ address: String) -> String { natLeases + "/" + address }
  public func natLease(_ address: String, block: UInt16) -> String {
    natLeases(address) + "/\(block)"
  }
}
