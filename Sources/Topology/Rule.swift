/// One entry of a chain: if the condition matches, take the action.
public struct Rule: ModelObject {
  public static let modelType = ModelType.rule
  public static var snapshotKeyPath: WritableKeyPath<TopologySnapshot, [ID: Rule]> { \.rules }

  public var id: ID
  /// The chain that lists this rule (binding: `Chain.ruleIds`, which also
  /// fixes the rule's position).
  public var chainId: ID
  public var condition: Condition
  public var action: RuleAction

  public init(id: ID, chainId: ID, condition: Condition = .any, action: RuleAction) {
    self.id = id
    self.chainId = chainId
    self.condition = condition
    self.action = action
  }

  /// Whether the rule applies to the packet; see `Condition.matches(_:)`.
  public func matches(_ ctx: MatchContext) -> Bool {
    condition.matches(ctx)
  }
}
