/// The 8-byte VXLAN header (RFC 7348) Midge uses as its tunnel header: flags with the I
/// bit, 24 reserved bits, the 24-bit VNI, 8 reserved bits. The VNI carries the tunnel
/// key — the egress port's key — so the receiving agent can deliver without simulating.
public struct VXLANHeader: Hashable, Sendable {
  /// The header length.
  public static let length = 8
  /// The IANA port, 4789.
  public static let port: UInt16 = 4789
  /// The I flag: the VNI is valid.
  public static let validVNIFlag: UInt8 = 0x08
  /// The largest VNI, 2^24 - 1.
  public static let maximumVNI: UInt32 = 0xFF_FFFF

  /// The flags byte (0x08 when sent by Midge).
  public var flags: UInt8
  /// The 24-bit VXLAN network identifier.
  public var vni: UInt32

  /// Creates a header with the I flag set; `vni` is truncated to 24 bits.
  public init(vni: UInt32) {
    self.flags = VXLANHeader.validVNIFlag
    self.vni = vni & VXLANHeader.maximumVNI
  }

  /// Parses the header at `offset`; the I flag must be set. Reserved bits are ignored,
  /// as RFC 7348 asks of receivers.
  public static func parse(
    _ bytes: UnsafeRawBufferPointer, at offset: Int
  ) throws(PacketError) -> VXLANHeader {
    guard bytes.has(length, at: offset) else {
      throw PacketError(.truncatedVXLAN, "VXLAN header shorter than 8 bytes")
    }
    let flags = bytes.readUInt8(at: offset)
    guard flags & validVNIFlag != 0 else {
      throw PacketError(.invalidVXLANFlags, "VXLAN I flag clear")
    }
    var header = VXLANHeader(vni: bytes.readUInt32(at: offset + 4) >> 8)
    header.flags = flags
    return header
  }

  /// Appends the header (reserved bits zero).
  public func append(to bytes: inout [UInt8]) {
    bytes.append(flags)
    bytes.append(0)
    bytes.append(0)
    bytes.append(0)
    bytes.appendUInt32(vni << 8)
  }
}
