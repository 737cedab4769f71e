/// An ordered list of rules, evaluated first to last until one decides.
///
/// Chains are attached to bridges, routers and ports as filters, and reached
/// from other chains by JUMP rules.
public struct Chain: ModelObject {
  public static let modelType = ModelType.chain
  public static var snapshotKeyPath: WritableKeyPath<TopologySnapshot, [ID: Chain]> { \.chains }

  public var id: ID
  public var name: String
  /// The rules in evaluation order (binding: `Rule.chainId`).
  public var ruleIds: [ID]
  /// Back-references: the bridges, routers and ports that use this chain as a filter,
  /// one list per filter field (bindings to `Bridge.inboundFilterId` and the others), so
  /// that deleting the chain clears those filters in the same transaction.
  public var bridgeInboundIds: [ID] = []
  public var bridgeOutboundIds: [ID] = []
  public var routerInboundIds: [ID] = []
  public var routerOutboundIds: [ID] = []
  public var routerForwardIds: [ID] = []
  public var portInboundIds: [ID] = []
  public var portOutboundIds: [ID] = []

  public init(id: ID, name: String, ruleIds: [ID] = []) {
    self.id = id
    self.name = name
    self.ruleIds = ruleIds
  }

  /// Whether any device or port uses the chain as a filter.
  public var isUsedAsFilter: Bool {
    !(bridgeInboundIds.isEmpty && bridgeOutboundIds.isEmpty && routerInboundIds.isEmpty
      && routerOutboundIds.isEmpty && routerForwardIds.isEmpty && portInboundIds.isEmpty
      && portOutboundIds.isEmpty)
  }
}
