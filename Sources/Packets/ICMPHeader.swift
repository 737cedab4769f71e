/// The 8-byte ICMP header (RFC 792): type, code, checksum and the four type-specific
/// bytes (echo identifier and sequence, next-hop MTU, or unused).
public struct ICMPHeader: Hashable, Sendable {
  /// The length of the fixed header.
  public static let length = 8

  /// The message type.
  public var type: ICMPType
  /// The message code (see `ICMPCode`).
  public var code: UInt8
  /// The checksum as read or written; it covers the whole ICMP message, no pseudo-header.
  public var checksum: UInt16
  /// Bytes 4...7, whose meaning depends on the type.
  public var restOfHeader: UInt32

  public init(type: ICMPType, code: UInt8 = 0, checksum: UInt16 = 0, restOfHeader: UInt32 = 0) {
    self.type = type
    self.code = code
    self.checksum = checksum
    self.restOfHeader = restOfHeader
  }

  /// An echo request or reply header.
  public static func echo(
    _ type: ICMPType = .echoRequest, identifier: UInt16, sequenceNumber: UInt16
  ) -> ICMPHeader {
    ICMPHeader(type: type, restOfHeader: UInt32(identifier) << 16 | UInt32(sequenceNumber))
  }

  /// The echo identifier (bytes 4-5); meaningful for echo messages only. NAT rewrites it
  /// like a port.
  public var identifier: UInt16 { UInt16(truncatingIfNeeded: restOfHeader >> 16) }
  /// The echo sequence number (bytes 6-7); meaningful for echo messages only.
  public var sequenceNumber: UInt16 { UInt16(truncatingIfNeeded: restOfHeader) }
  /// The next-hop MTU of a "fragmentation needed" message (RFC 1191).
  public var nextHopMTU: UInt16 { UInt16(truncatingIfNeeded: restOfHeader) }

  /// Parses the header at `offset`.
  public static func parse(
    _ bytes: UnsafeRawBufferPointer, at offset: Int
  ) throws(PacketError) -> ICMPHeader {
    guard bytes.has(length, at: offset) else {
      throw PacketError(.truncatedICMP, "ICMP header shorter than 8 bytes")
    }
    return ICMPHeader(
      type: ICMPType(rawValue: bytes.readUInt8(at: offset)), code: bytes.readUInt8(at: offset + 1),
      checksum: bytes.readUInt16(at: offset + 2), restOfHeader: bytes.readUInt32(at: offset + 4))
  }

  /// Appends the header with its fields as they are.
  public func append(to bytes: inout [UInt8]) {
    bytes.append(type.rawValue)
    bytes.append(code)
    bytes.appendUInt16(checksum)
    bytes.appendUInt32(restOfHeader)
  }
}
