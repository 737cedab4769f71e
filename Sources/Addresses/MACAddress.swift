/// A 48-bit IEEE 802 MAC address, kept in the low 48 bits of a `UInt64`.
///
/// A number rather than six bytes so that hashing, comparing and copying a flow key costs
/// one machine word per address, so that rule conditions compare MACs under a mask
/// (`dlSrcMask`) with a single AND, and so that a codec carries it as one integer field.
/// The bit order is the wire order: the first octet on the wire is bits 40...47.
public struct MACAddress: RawRepresentable, Hashable, Comparable, Sendable {
  /// The address in the low 48 bits; the high 16 bits are always zero.
  public let rawValue: UInt64

  /// Keeps the low 48 bits of `rawValue` (higher bits are dropped, so any `UInt64` gives
  /// a valid address).
  @inlinable
  public init(rawValue: UInt64) {
    self.rawValue = rawValue & 0xFFFF_FFFF_FFFF
  }

  /// Creates an address from its six octets in wire order.
  @inlinable
  public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8, _ e: UInt8, _ f: UInt8) {
    self.rawValue =
      UInt64(a) << 40 | UInt64(b) << 32 | UInt64(c) << 24 | UInt64(d) << 16 | UInt64(e) << 8
      | UInt64(f)
  }

  /// Creates an address from six octets in wire order; nil unless `bytes` has exactly six.
  @inlinable
  public init?(bytes: some Collection<UInt8>) {
    guard bytes.count == 6 else { return nil }
    self.rawValue = bytes.reduce(0) { $0 << 8 | UInt64($1) }
  }

  /// ff:ff:ff:ff:ff:ff, the destination of ARP requests and gratuitous ARP; also the
  /// all-ones mask that compares every bit.
  public static let broadcast = MACAddress(rawValue: 0xFFFF_FFFF_FFFF)
  /// 00:00:00:00:00:00, the "unknown" target hardware address of an ARP request.
  public static let zero = MACAddress(rawValue: 0)

  /// The six octets in wire order.
  public var bytes: [UInt8] {
    (0..<6).map { UInt8(truncatingIfNeeded: rawValue >> (40 - 8 * UInt64($0))) }
  }

  /// True for ff:ff:ff:ff:ff:ff.
  @inlinable public var isBroadcast: Bool { rawValue == 0xFFFF_FFFF_FFFF }
  /// True when the I/G bit (least significant bit of the first octet) is set; broadcast
  /// is a multicast address. Bridges flood these instead of learning or looking them up.
  @inlinable public var isMulticast: Bool { rawValue & 0x0100_0000_0000 != 0 }
  /// True for individual (unicast) addresses.
  @inlinable public var isUnicast: Bool { !isMulticast }
  /// True when the U/L bit is set: the address was assigned locally, not by a vendor, as
  /// Midge does for virtual ports.
  @inlinable public var isLocallyAdministered: Bool { rawValue & 0x0200_0000_0000 != 0 }
  /// True for 00:00:00:00:00:00.
  @inlinable public var isZero: Bool { rawValue == 0 }

  @inlinable
  public static func < (lhs: MACAddress, rhs: MACAddress) -> Bool {
    lhs.rawValue < rhs.rawValue
  }
}

extension MACAddress: CustomStringConvertible, LosslessStringConvertible {
  /// Parses six colon-separated pairs of hex digits of either case,
  /// `02:00:5E:10:00:01`. Nothing else is accepted — no dashes, no single digits — so
  /// that an address has one spelling in files and in the NSDB. Printing is lowercase.
  public init(parsing text: some StringProtocol) throws(ParseError) {
    func fail(_ why: String) -> ParseError {
      ParseError(
        code: .invalidMACAddress, message: "'\(text)' is not a MAC address: \(why)",
        input: String(text))
    }
    let bytes = Array(text.utf8)
    guard bytes.count == 17 else { throw fail("expected xx:xx:xx:xx:xx:xx") }
    var result: UInt64 = 0
    for (index, byte) in bytes.enumerated() {
      if index % 3 == 2 {
        guard byte == UInt8(ascii: ":") else { throw fail("expected ':'") }
      } else {
        guard let nibble = Hex.value(byte) else { throw fail("bad hex digit") }
        result = result << 4 | UInt64(nibble)
      }
    }
    self.init(rawValue: result)
  }

  /// As `init(parsing:)`, for callers that only need to know whether it parsed.
  public init?(_ description: String) {
    guard let parsed = try? MACAddress(parsing: description) else { return nil }
    self = parsed
  }

  /// Lower-case, colon-separated, two digits per octet: "aa:bb:cc:dd:ee:ff".
  public var description: String {
    var out: [UInt8] = []
    out.reserveCapacity(17)
    for index in 0..<6 {
      if index > 0 { out.append(UInt8(ascii: ":")) }
      Hex.append(rawValue >> UInt64(40 - 8 * index), digits: 2, to: &out)
    }
    return String(decoding: out, as: UTF8.self)
  }
}

extension MACAddress: Codable {
  /// Encoded as its text form, so configuration files, YAML and JSON stay readable.
  public init(from decoder: any Decoder) throws {
    let container = try decoder.singleValueContainer()
    let text = try container.decode(String.self)
    do {
      self = try MACAddress(parsing: text)
    } catch {
      throw DecodingError.dataCorruptedError(in: container, debugDescription: error.message)
    }
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(description)
  }
}
