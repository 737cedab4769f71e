import Addresses

/// One pool a NAT rule may translate to: an inclusive address range and an
/// inclusive L4 port range.
///
/// The simulator picks a free (address, port) pair from the targets of a
/// DNAT/SNAT rule and records the binding so replies are reverse-translated.
/// `portFrom == portTo == 0` keeps the packet's own port (address-only NAT).
public struct NatTarget: Hashable, Sendable, Codable {
  public var addressFrom: IPv4Address
  public var addressTo: IPv4Address
  public var portFrom: UInt16
  public var portTo: UInt16

  public init(addressFrom: IPv4Address, addressTo: IPv4Address, portFrom: UInt16, portTo: UInt16) {
    self.addressFrom = addressFrom
    self.addressTo = addressTo
    self.portFrom = portFrom
    self.portTo = portTo
  }

  /// A single address, keeping the packet's port.
  public init(address: IPv4Address) {
    self.init(addressFrom: address, addressTo: address, portFrom: 0, portTo: 0)
  }

  /// Whether the ranges are non-empty (`from <= to`).
  public var isWellFormed: Bool { addressFrom <= addressTo && portFrom <= portTo }
}
