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

  public init(id: ID, name: String, ruleIds: [ID] = []) {
    self.id = id
    self.name = name
    self.ruleIds = ruleIds
  }
}
