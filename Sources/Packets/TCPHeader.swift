/// A TCP header (RFC 9293). Options are skipped, not interpreted.
public struct TCPHeader: Hashable, Sendable {
  /// The length of a header without options.
  public static let minimumLength = 20

  /// The source port.
  public var sourcePort: UInt16
  /// The destination port.
  public var destinationPort: UInt16
  /// The sequence number.
  public var sequenceNumber: UInt32
  /// The acknowledgment number (meaningful when `flags` contains `.ack`).
  public var acknowledgmentNumber: UInt32
  /// Header length in bytes, 20...60 (data offset × 4).
  public var headerLength: Int
  /// The control bits.
  public var flags: TCPFlags
  /// The receive window.
  public var window: UInt16
  /// The checksum as read or written (covers the IPv4 pseudo-header).
  public var checksum: UInt16
  /// The urgent pointer.
  public var urgentPointer: UInt16

  public init(
    sourcePort: UInt16, destinationPort: UInt16, sequenceNumber: UInt32 = 0,
    acknowledgmentNumber: UInt32 = 0, flags: TCPFlags = [], window: UInt16 = 65_535,
    checksum: UInt16 = 0, urgentPointer: UInt16 = 0
  ) {
    self.sourcePort = sourcePort
    self.destinationPort = destinationPort
    self.sequenceNumber = sequenceNumber
    self.acknowledgmentNumber = acknowledgmentNumber
    self.headerLength = TCPHeader.minimumLength
    self.flags = flags
    self.window = window
    self.checksum = checksum
    self.urgentPointer = urgentPointer
  }

  /// Parses the header at `offset`, checking the data offset and that the whole header
  /// (with options) is present.
  public static func parse(
    _ bytes: UnsafeRawBufferPointer, at offset: Int
  ) throws(PacketError) -> TCPHeader {
    guard bytes.has(minimumLength, at: offset) else {
      throw PacketError(.truncatedTCP, "TCP header shorter than 20 bytes")
    }
    let offsetFlags = bytes.readUInt16(at: offset + 12)
    let headerLength = Int(offsetFlags >> 12) * 4
    guard headerLength >= minimumLength else {
      throw PacketError(.invalidTCPDataOffset, "TCP data offset below 5")
    }
    guard bytes.has(headerLength, at: offset) else {
      throw PacketError(.truncatedTCP, "TCP options cut short")
    }
    var header = TCPHeader(
      sourcePort: bytes.readUInt16(at: offset), destinationPort: bytes.readUInt16(at: offset + 2),
      sequenceNumber: bytes.readUInt32(at: offset + 4),
      acknowledgmentNumber: bytes.readUInt32(at: offset + 8),
      flags: TCPFlags(rawValue: offsetFlags & 0x01FF), window: bytes.readUInt16(at: offset + 14),
      checksum: bytes.readUInt16(at: offset + 16), urgentPointer: bytes.readUInt16(at: offset + 18))
    header.headerLength = headerLength
    return header
  }

  /// Appends the header with its fields as they are, then `options` (which must be
  /// `headerLength - 20` bytes).
  public func append(to bytes: inout [UInt8], options: [UInt8] = []) {
    bytes.appendUInt16(sourcePort)
    bytes.appendUInt16(destinationPort)
    bytes.appendUInt32(sequenceNumber)
    bytes.appendUInt32(acknowledgmentNumber)
    let dataOffset = UInt16(truncatingIfNeeded: headerLength / 4) & 0xF
    bytes.appendUInt16(dataOffset << 12 | flags.rawValue & 0x01FF)
    bytes.appendUInt16(window)
    bytes.appendUInt16(checksum)
    bytes.appendUInt16(urgentPointer)
    bytes.append(contentsOf: options)
  }
}
