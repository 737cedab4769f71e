import Addresses

/// A named set of IPv4 addresses that rules can match on
/// (`Condition.ipAddrGroupIdSrc` / `ipAddrGroupIdDst`), e.g. the pods
/// selected by a Kubernetes NetworkPolicy.
public struct IPAddrGroup: ModelObject {
  public static let modelType = ModelType.ipAddrGroup
  public static var snapshotKeyPath: WritableKeyPath<TopologySnapshot, [ID: IPAddrGroup]> {
    \.ipAddrGroups
  }

  public var id: ID
  public var name: String
  /// The members; order carries no meaning, duplicates are harmless.
  public var addresses: [IPv4Address]

  public init(id: ID, name: String, addresses: [IPv4Address] = []) {
    self.id = id
    self.name = name
    self.addresses = addresses
  }

  /// Linear membership test; build a `Set` once when testing many packets.
  public func contains(_ address: IPv4Address) -> Bool {
    addresses.contains(address)
  }
}
