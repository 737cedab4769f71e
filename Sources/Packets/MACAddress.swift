/// A 48-bit IEEE 802 MAC address.
///
/// Stored in the low 48 bits of a `UInt64` rather than as six bytes so that hashing,
/// comparing and copying a flow key costs one machine word per address. The byte order is
/// the wire order: the first octet on the wire is bits 40...47.
public struct MACAddress: RawRepresentable, Hashable, Sendable, Comparable {
  /// The address in the low 48 bits; the high 16 bits are always zero.
  public let rawValue: UInt64

  /// Creates an address from the low 48 bits of `rawValue` (higher bits are dropped, so
  /// any `UInt64` gives a valid address).
  public init(rawValue: UInt64) {
    self.rawValue = rawValue & 0xFFFF_FFFF_FFFF
  }

  /// Creates an address from its six octets in wire order.
  public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8, _ e: UInt8, _ f: UInt8) {
    self.rawValue =
      UInt64(a) << 40 | UInt64(b) << 32 | UInt64(c) << 24 | UInt64(d) << 16 | UInt64(e) << 8
      | UInt64(f)
  }

  /// Creates an address from six octets in wire order; nil unless `bytes` has exactly six.
  public init?(bytes: some Collection<UInt8>) {
    guard bytes.count == 6 else { return nil }
    var value: UInt64 = 0
    for byte in bytes { value = value << 8 | UInt64(byte) }
    self.rawValue = value
  }

  /// ff:ff:ff:ff:ff:ff, the destination of ARP requests and gratuitous ARP.
  public static let broadcast = MACAddress(rawValue: 0xFFFF_FFFF_FFFF)
  /// 00:00:00:00:00:00, the "unknown" target hardware address of an ARP request.
  public static let zero = MACAddress(rawValue: 0)

  /// The six octets in wire order.
  public var bytes: [UInt8] {
    (0..<6).map { UInt8(truncatingIfNeeded: rawValue >> (40 - 8 * UInt64($0))) }
  }

  /// True for ff:ff:ff:ff:ff:ff.
  public var isBroadcast: Bool { rawValue == 0xFFFF_FFFF_FFFF }
  /// True when the I/G bit (least significant bit of the first octet) is set; broadcast
  /// is a multicast address. Bridges flood these instead of learning or looking them up.
  public var isMulticast: Bool { rawValue & 0x0100_0000_0000 != 0 }
  /// True for individual (unicast) addresses.
  public var isUnicast: Bool { !isMulticast }
  /// True when the U/L bit is set: the address was assigned locally, not by a vendor, as
  /// Midge does for virtual ports.
  public var isLocallyAdministered: Bool { rawValue & 0x0200_0000_0000 != 0 }
  /// True for 00:00:00:00:00:00.
  public var isZero: Bool { rawValue == 0 }

  public static func < (lhs: MACAddress, rhs: MACAddress) -> Bool {
    lhs.rawValue < rhs.rawValue
  }
}

extension MACAddress: CustomStringConvertible, LosslessStringConvertible {
  /// Parses "aa:bb:cc:dd:ee:ff" (hex digits of either case; ':' or '-' separators, one
  /// or two digits per octet). Returns nil for anything else.
  public init?(_ description: String) {
    var value: UInt64 = 0
    var octets = 0
    var digits = 0
    var current: UInt64 = 0
    var separator: UInt8 = 0
    for char in description.utf8 {
      if let nibble = hexValue(char) {
        digits += 1
        guard digits <= 2 else { return nil }
        current = current << 4 | UInt64(nibble)
      } else if char == UInt8(ascii: ":") || char == UInt8(ascii: "-") {
        guard digits > 0, separator == 0 || separator == char else { return nil }
        separator = char
        octets += 1
        guard octets < 6 else { return nil }
        value = value << 8 | current
        current = 0
        digits = 0
      } else {
        return nil
      }
    }
    guard digits > 0, octets == 5 else { return nil }
    self.init(rawValue: value << 8 | current)
  }

  /// Lower-case, colon-separated, two digits per octet: "aa:bb:cc:dd:ee:ff".
  public var description: String {
    var text = ""
    text.reserveCapacity(17)
    for index in 0..<6 {
      if index > 0 { text.append(":") }
      let octet = UInt8(truncatingIfNeeded: rawValue >> (40 - 8 * UInt64(index)))
      text.append(hexDigit(octet >> 4))
      text.append(hexDigit(octet & 0xF))
    }
    return text
  }
}

extension MACAddress: Codable {
  /// Encoded as its text form, so configuration files and JSON stay readable.
  public init(from decoder: any Decoder) throws {
    let container = try decoder.singleValueContainer()
    let text = try container.decode(String.self)
    guard let address = MACAddress(text) else {
      throw DecodingError.dataCorruptedError(
        in: container, debugDescription: "invalid MAC address \"\(text)\"")
    }
    self = address
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(description)
  }
}

private func hexValue(_ char: UInt8) -> UInt8? {
  switch char {
  case UInt8(ascii: "0")...UInt8(ascii: "9"): return char - UInt8(ascii: "0")
  case UInt8(ascii: "a")...UInt8(ascii: "f"): return char - UInt8(ascii: "a") + 10
  case UInt8(ascii: "A")...UInt8(ascii: "F"): return char - UInt8(ascii: "A") + 10
  default: return nil
  }
}

private func hexDigit(_ nibble: UInt8) -> Character {
  Character(Unicode.Scalar(nibble < 10 ? nibble + 48 : nibble + 87))
}
