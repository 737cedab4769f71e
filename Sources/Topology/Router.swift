/// A virtual IPv4 router: longest-prefix-match over its routes, ARP on its ports.
public struct Router: ModelObject {
  public static let modelType = ModelType.router
  public static var snapshotKeyPath: WritableKeyPath<TopologySnapshot, [ID: Router]> { \.routers }

  public var id: ID
  public var name: String
  /// A router that is administratively down drops everything.
  public var adminStateUp: Bool
  /// Pre-routing chain: runs before the route lookup (where DNAT belongs).
  public var inboundFilterId: ID?
  /// Post-routing chain: runs after the route lookup (where SNAT belongs).
  public var outboundFilterId: ID?
  /// Forward chain: runs on routed packets only, between the two.
  public var forwardFilterId: ID?
  /// Ports of this router (binding: `Port.device`).
  public var portIds: [ID]
  /// Routes of this router (binding: `Route.routerId`).
  public var routeIds: [ID]

  public init(
    id: ID, name: String, adminStateUp: Bool = true, inboundFilterId: ID? = nil,
    outboundFilterId: ID? = nil, forwardFilterId: ID? = nil, portIds: [ID] = [],
    routeIds: [ID] = []
  ) {
    self.id = id
    self.name = name
    self.adminStateUp = adminStateUp
    self.inboundFilterId = inboundFilterId
    self.outboundFilterId = outboundFilterId
    self.forwardFilterId = forwardFilterId
    self.portIds = portIds
    self.routeIds = routeIds
  }
}
