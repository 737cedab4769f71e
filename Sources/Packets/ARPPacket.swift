import Addresses

/// An ARP packet for IPv4 over Ethernet (RFC 826): the only kind a virtual router or
/// bridge needs to answer, learn from or generate.
public struct ARPPacket: Hashable, Sendable {
  /// The length of an IPv4-over-Ethernet ARP packet.
  public static let length = 28

  /// The ARP opcode.
  public struct Operation: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    /// 1.
    public static let request = Operation(rawValue: 1)
    /// 2.
    public static let reply = Operation(rawValue: 2)

    public var description: String {
      switch self {
      case .request: return "request"
      case .reply: return "reply"
      default: return String(rawValue)
      }
    }
  }

  /// Request or reply.
  public var operation: Operation
  /// SHA: the sender's MAC.
  public var senderHardwareAddress: MACAddress
  /// SPA: the sender's IPv4 address.
  public var senderProtocolAddress: IPv4Address
  /// THA: the target's MAC (zero in a request).
  public var targetHardwareAddress: MACAddress
  /// TPA: the target's IPv4 address.
  public var targetProtocolAddress: IPv4Address

  public init(
    operation: Operation, senderHardwareAddress: MACAddress,
    senderProtocolAddress: IPv4Address, targetHardwareAddress: MACAddress,
    targetProtocolAddress: IPv4Address
  ) {
    self.operation = operation
    self.senderHardwareAddress = senderHardwareAddress
    self.senderProtocolAddress = senderProtocolAddress
    self.targetHardwareAddress = targetHardwareAddress
    self.targetProtocolAddress = targetProtocolAddress
  }

  /// True when sender and target protocol addresses are equal: an announcement (after a
  /// failover or migration) rather than a question.
  public var isGratuitous: Bool { senderProtocolAddress == targetProtocolAddress }

  /// Parses the ARP packet at `offset`; only Ethernet/IPv4 (htype 1, ptype 0x0800,
  /// hlen 6, plen 4) is accepted.
  public static func parse(
    _ bytes: UnsafeRawBufferPointer, at offset: Int
  ) throws(PacketError) -> ARPPacket {
    guard bytes.has(length, at: offset) else {
      throw PacketError(.truncatedARP, "ARP packet shorter than 28 bytes")
    }
    guard bytes.readUInt16(at: offset) == 1,
      bytes.readUInt16(at: offset + 2) == EtherType.ipv4.rawValue,
      bytes.readUInt8(at: offset + 4) == 6, bytes.readUInt8(at: offset + 5) == 4
    else {
      throw PacketError(.unsupportedARP, "ARP packet is not IPv4 over Ethernet")
    }
    return ARPPacket(
      operation: Operation(rawValue: bytes.readUInt16(at: offset + 6)),
      senderHardwareAddress: bytes.readMAC(at: offset + 8),
      senderProtocolAddress: bytes.readIPv4(at: offset + 14),
      targetHardwareAddress: bytes.readMAC(at: offset + 18),
      targetProtocolAddress: bytes.readIPv4(at: offset + 24))
  }

  /// Appends the 28-byte packet in wire format.
  public func append(to bytes: inout [UInt8]) {
    bytes.appendUInt16(1)
    bytes.appendUInt16(EtherType.ipv4.rawValue)
    bytes.append(6)
    bytes.append(4)
    bytes.appendUInt16(operation.rawValue)
    bytes.appendMAC(senderHardwareAddress)
    bytes.appendUInt32(senderProtocolAddress.rawValue)
    bytes.appendMAC(targetHardwareAddress)
    bytes.appendUInt32(targetProtocolAddress.rawValue)
  }
}
