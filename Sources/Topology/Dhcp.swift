import Addresses

/// A DHCP subnet served by the agent on a bridge: the agent answers DHCP
/// requests from the bridge's ports itself, so no DHCP server VM is needed.
public struct Dhcp: ModelObject {
  public static let modelType = ModelType.dhcp
  public static var snapshotKeyPath: WritableKeyPath<TopologySnapshot, [ID: Dhcp]> { \.dhcps }

  public var id: ID
  /// The bridge whose ports this subnet serves (binding: `Bridge.dhcpIds`).
  public var bridgeId: ID
  public var subnet: IPv4Prefix
  /// Default gateway offered to clients; nil offers none.
  public var gateway: IPv4Address?
  public var dnsServers: [IPv4Address]
  /// Static leases.
  public var hosts: [DhcpHost]

  public init(
    id: ID, bridgeId: ID, subnet: IPv4Prefix, gateway: IPv4Address? = nil,
    dnsServers: [IPv4Address] = [], hosts: [DhcpHost] = []
  ) {
    self.id = id
    self.bridgeId = bridgeId
    self.subnet = subnet
    self.gateway = gateway
    self.dnsServers = dnsServers
    self.hosts = hosts
  }
}
