/// A UDP header (RFC 768).
public struct UDPHeader: Hashable, Sendable {
  /// The header length.
  public static let length = 8

  /// The source port.
  public var sourcePort: UInt16
  /// The destination port.
  public var destinationPort: UInt16
  /// Header plus data, in bytes.
  public var length: UInt16
  /// The checksum as read or written; 0 means "not computed", which IPv4 allows.
  public var checksum: UInt16

  public init(sourcePort: UInt16, destinationPort: UInt16, length: UInt16 = 8, checksum: UInt16 = 0)
  {
    self.sourcePort = sourcePort
    self.destinationPort = destinationPort
    self.length = length
    self.checksum = checksum
  }

  /// Parses the header at `offset`, checking that the length field covers the header.
  public static func parse(
    _ bytes: UnsafeRawBufferPointer, at offset: Int
  ) throws(PacketError) -> UDPHeader {
    guard bytes.has(length, at: offset) else {
      throw PacketError(.truncatedUDP, "UDP header shorter than 8 bytes")
    }
    let header = UDPHeader(
      sourcePort: bytes.readUInt16(at: offset), destinationPort: bytes.readUInt16(at: offset + 2),
      length: bytes.readUInt16(at: offset + 4), checksum: bytes.readUInt16(at: offset + 6))
    guard header.length >= 8 else {
      throw PacketError(.invalidUDPLength, "UDP length below 8")
    }
    return header
  }

  /// Appends the header with its fields as they are.
  public func append(to bytes: inout [UInt8]) {
    bytes.appendUInt16(sourcePort)
    bytes.appendUInt16(destinationPort)
    bytes.appendUInt16(length)
    bytes.appendUInt16(checksum)
  }
}
