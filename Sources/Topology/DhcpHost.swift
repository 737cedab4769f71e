import Addresses

/// A static DHCP lease: the address (and name) a `Dhcp` subnet gives one MAC.
public struct DhcpHost: Hashable, Sendable, Codable {
  public var mac: MACAddress
  public var ip: IPv4Address
  /// Host name offered in the DHCP reply; empty for none.
  public var name: String

  public init(mac: MACAddress, ip: IPv4Address, name: String = "") {
    self.mac = mac
    self.ip = ip
    self.name = name
  }
}
