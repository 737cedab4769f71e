import Addresses

/// One entry of a router's routing table.
///
/// The simulator picks the longest `dstPrefix` that contains the destination
/// (and whose `srcPrefix` contains the source); among equally long matches
/// the lowest `weight` wins, and equal weights are spread over by flow hash.
public struct Route: ModelObject {
  public static let modelType = ModelType.route
  public static var snapshotKeyPath: WritableKeyPath<TopologySnapshot, [ID: Route]> { \.routes }

  /// What the router does with a packet that selects this route.
  ///
  /// A plain enum with the port in its own field (`nextHopPortId`) so the
  /// wire form is two scalar fields.
  public enum NextHop: String, Hashable, Sendable, Codable, CaseIterable {
    /// Forward out of `nextHopPortId`, to `nextHopGateway` if set, else to
    /// the destination itself (directly connected).
    case port
    /// Drop silently.
    case blackhole
    /// Drop and answer with ICMP destination unreachable (administratively prohibited).
    case reject
    /// The destination is the router itself (one of its port addresses).
    case local
  }

  public var id: ID
  /// The router whose table this is (binding: `Router.routeIds`).
  public var routerId: ID
  /// Only packets from this prefix use the route; `0.0.0.0/0` for any source.
  public var srcPrefix: IPv4Prefix
  public var dstPrefix: IPv4Prefix
  public var nextHop: NextHop
  /// The egress port when `nextHop == .port` (binding: `Port.routeIds`).
  public var nextHopPortId: ID?
  /// The next router's address; nil when the destination is on-link.
  public var nextHopGateway: IPv4Address?
  /// Preference among equally specific routes: lower wins.
  public var weight: UInt32
  /// Created by the system (a port's connected subnet, a dynamic protocol)
  /// rather than by an operator; learned routes are not written back to
  /// topology files.
  public var learned: Bool

  public init(
    id: ID, routerId: ID, srcPrefix: IPv4Prefix = .all, dstPrefix: IPv4Prefix,
    nextHop: NextHop, nextHopPortId: ID? = nil, nextHopGateway: IPv4Address? = nil,
    weight: UInt32 = 100, learned: Bool = false
  ) {
    self.id = id
    self.routerId = routerId
    self.srcPrefix = srcPrefix
    self.dstPrefix = dstPrefix
    self.nextHop = nextHop
    self.nextHopPortId = nextHopPortId
    self.nextHopGateway = nextHopGateway
    self.weight = weight
    self.learned = learned
  }
}
