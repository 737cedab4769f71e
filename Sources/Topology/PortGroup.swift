/// A named set of ports that rules can match on as a whole (`Condition.portGroupId`).
public struct PortGroup: ModelObject {
  public static let modelType = ModelType.portGroup
  public static var snapshotKeyPath: WritableKeyPath<TopologySnapshot, [ID: PortGroup]> {
    \.portGroups
  }

  public var id: ID
  public var name: String
  /// Whether connection-tracking state for flows through these ports is
  /// shared among them, so a return flow entering any member is recognised
  /// (several uplinks of one gateway, say).
  public var stateful: Bool
  /// Member ports (binding: `Port.portGroupIds`).
  public var portIds: [ID]

  public init(id: ID, name: String, stateful: Bool = false, portIds: [ID] = []) {
    self.id = id
    self.name = name
    self.stateful = stateful
    self.portIds = portIds
  }
}
