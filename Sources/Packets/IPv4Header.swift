import Addresses

/// An IPv4 header (RFC 791). Options are carried on the wire but not interpreted: the
/// header length accounts for them and builders can emit them.
public struct IPv4Header: Hashable, Sendable {
  /// The length of a header without options.
  public static let minimumLength = 20

  /// Header length in bytes, 20...60 (IHL × 4).
  public var headerLength: Int
  /// The type-of-service byte (DSCP and ECN).
  public var tos: UInt8
  /// Header plus data, in bytes.
  public var totalLength: UInt16
  /// The identification used to reassemble fragments.
  public var identification: UInt16
  /// DF: the datagram must not be fragmented (path MTU discovery).
  public var dontFragment: Bool
  /// MF: more fragments follow.
  public var moreFragments: Bool
  /// The fragment offset, in 8-byte units.
  public var fragmentOffset: UInt16
  /// Time to live.
  public var ttl: UInt8
  /// The payload protocol.
  public var ipProtocol: IPProtocol
  /// The header checksum as read or as written.
  public var checksum: UInt16
  /// The source address.
  public var source: IPv4Address
  /// The destination address.
  public var destination: IPv4Address

  /// Creates a header. Builders fill in `headerLength`, `totalLength`, `ipProtocol` and
  /// `checksum` from what they emit, so callers only need the addresses and any
  /// non-default fields.
  public init(
    source: IPv4Address, destination: IPv4Address, ipProtocol: IPProtocol = .udp,
    ttl: UInt8 = 64, tos: UInt8 = 0, identification: UInt16 = 0, dontFragment: Bool = false,
    moreFragments: Bool = false, fragmentOffset: UInt16 = 0
  ) {
    self.headerLength = IPv4Header.minimumLength
    self.tos = tos
    self.totalLength = UInt16(IPv4Header.minimumLength)
    self.identification = identification
    self.dontFragment = dontFragment
    self.moreFragments = moreFragments
    self.fragmentOffset = fragmentOffset & 0x1FFF
    self.ttl = ttl
    self.ipProtocol = ipProtocol
    self.checksum = 0
    self.source = source
    self.destination = destination
  }

  /// None, first or later fragment.
  public var fragmentType: FragmentType {
    if fragmentOffset != 0 { return .later }
    return moreFragments ? .first : .none
  }

  /// Differentiated services code point (high six bits of `tos`).
  public var dscp: UInt8 { tos >> 2 }
  /// Explicit congestion notification (low two bits of `tos`).
  public var ecn: UInt8 { tos & 0x3 }

  /// Parses the header at `offset`, checking the version, IHL, that the whole header
  /// (with options) is present, and that the total length covers the header. The
  /// checksum is read but not verified (see `ParsedPacket.verifyChecksums`).
  public static func parse(
    _ bytes: UnsafeRawBufferPointer, at offset: Int
  ) throws(PacketError) -> IPv4Header {
    guard bytes.has(minimumLength, at: offset) else {
      throw PacketError(.truncatedIPv4, "IPv4 header shorter than 20 bytes")
    }
    let versionIHL = bytes.readUInt8(at: offset)
    guard versionIHL >> 4 == 4 else {
      throw PacketError(.invalidIPv4Version, "IP version is not 4")
    }
    let headerLength = Int(versionIHL & 0xF) * 4
    guard headerLength >= minimumLength else {
      throw PacketError(.invalidIPv4HeaderLength, "IPv4 IHL below 5")
    }
    guard bytes.has(headerLength, at: offset) else {
      throw PacketError(.truncatedIPv4, "IPv4 options cut short")
    }
    let totalLength = bytes.readUInt16(at: offset + 2)
    guard Int(totalLength) >= headerLength else {
      throw PacketError(.invalidIPv4TotalLength, "IPv4 total length below header length")
    }
    let flagsOffset = bytes.readUInt16(at: offset + 6)
    var header = IPv4Header(
      source: bytes.readIPv4(at: offset + 12), destination: bytes.readIPv4(at: offset + 16),
      ipProtocol: IPProtocol(rawValue: bytes.readUInt8(at: offset + 9)),
      ttl: bytes.readUInt8(at: offset + 8), tos: bytes.readUInt8(at: offset + 1),
      identification: bytes.readUInt16(at: offset + 4),
      dontFragment: flagsOffset & 0x4000 != 0, moreFragments: flagsOffset & 0x2000 != 0,
      fragmentOffset: flagsOffset & 0x1FFF)
    header.headerLength = headerLength
    header.totalLength = totalLength
    header.checksum = bytes.readUInt16(at: offset + 10)
    return header
  }

  /// Appends the header as it is (fields, including `checksum`, written verbatim)
  /// followed by `options`, which must be `headerLength - 20` bytes long; builders
  /// compute lengths and checksum before calling this.
  public func append(to bytes: inout [UInt8], options: [UInt8] = []) {
    bytes.append(0x40 | UInt8(truncatingIfNeeded: headerLength / 4) & 0xF)
    bytes.append(tos)
    bytes.appendUInt16(totalLength)
    bytes.appendUInt16(identification)
    var flagsOffset = fragmentOffset & 0x1FFF
    if dontFragment { flagsOffset |= 0x4000 }
    if moreFragments { flagsOffset |= 0x2000 }
    bytes.appendUInt16(flagsOffset)
    bytes.append(ttl)
    bytes.append(ipProtocol.rawValue)
    bytes.appendUInt16(checksum)
    bytes.appendUInt32(source.rawValue)
    bytes.appendUInt32(destination.rawValue)
    bytes.append(contentsOf: options)
  }
}
