/// An IPv4 address, held as a host-order `UInt32` (10.0.0.1 is 0x0A00_0001).
///
/// A thin wrapper rather than a bare `UInt32` so that addresses cannot be confused with
/// ports, keys or counters in flow keys and topology objects, while costing nothing more
/// than the integer: hashing, comparing and masking stay single instructions.
public struct IPv4Address: RawRepresentable, Hashable, Sendable, Comparable {
  /// The address in host byte order.
  public var rawValue: UInt32

  /// Wraps a host-order integer.
  public init(rawValue: UInt32) {
    self.rawValue = rawValue
  }

  /// Creates an address from its four octets, most significant first: `(10, 0, 0, 1)`.
  public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
    self.rawValue = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
  }

  /// 0.0.0.0: "this host" as an ARP probe's sender, or "no address".
  public static let any = IPv4Address(rawValue: 0)
  /// 255.255.255.255, the limited broadcast address.
  public static let broadcast = IPv4Address(rawValue: 0xFFFF_FFFF)

  /// The four octets, most significant first.
  public var octets: (UInt8, UInt8, UInt8, UInt8) {
    (
      UInt8(truncatingIfNeeded: rawValue >> 24), UInt8(truncatingIfNeeded: rawValue >> 16),
      UInt8(truncatingIfNeeded: rawValue >> 8), UInt8(truncatingIfNeeded: rawValue)
    )
  }

  /// True for 0.0.0.0.
  public var isUnspecified: Bool { rawValue == 0 }
  /// True for 255.255.255.255.
  public var isBroadcast: Bool { rawValue == 0xFFFF_FFFF }
  /// True for 224.0.0.0/4: routers must not answer these with ICMP errors.
  public var isMulticast: Bool { rawValue >> 28 == 0xE }
  /// True for 127.0.0.0/8.
  public var isLoopback: Bool { rawValue >> 24 == 127 }
  /// True for 169.254.0.0/16.
  public var isLinkLocal: Bool { rawValue >> 16 == 0xA9FE }

  public static func < (lhs: IPv4Address, rhs: IPv4Address) -> Bool {
    lhs.rawValue < rhs.rawValue
  }
}

extension IPv4Address: CustomStringConvertible, LosslessStringConvertible {
  /// Parses a dotted quad, "10.0.0.1": exactly four decimal octets 0...255 without
  /// leading zeros. Returns nil for anything else (no shorthand forms such as "10.1" and
  /// no "010", which other parsers read as octal).
  public init?(_ description: String) {
    var value: UInt32 = 0
    var octet: UInt32 = 0
    var digits = 0
    var dots = 0
    for char in description.utf8 {
      if char >= UInt8(ascii: "0") && char <= UInt8(ascii: "9") {
        // No leading zeros: "010" is octal 8 to inet_aton and 10 to others.
        guard digits == 0 || octet != 0 else { return nil }
        digits += 1
        guard digits <= 3 else { return nil }
        octet = octet * 10 + UInt32(char - UInt8(ascii: "0"))
        guard octet <= 255 else { return nil }
      } else if char == UInt8(ascii: ".") {
        guard digits > 0, dots < 3 else { return nil }
        dots += 1
        value = value << 8 | octet
        octet = 0
        digits = 0
      } else {
        return nil
      }
    }
    guard digits > 0, dots == 3 else { return nil }
    self.init(rawValue: value << 8 | octet)
  }

  /// The dotted quad, "10.0.0.1".
  public var description: String {
    let (a, b, c, d) = octets
    return "\(a).\(b).\(c).\(d)"
  }
}

extension IPv4Address: Codable {
  /// Encoded as its dotted quad, so configuration files and JSON stay readable.
  public init(from decoder: any Decoder) throws {
    let container = try decoder.singleValueContainer()
    let text = try container.decode(String.self)
    guard let address = IPv4Address(text) else {
      throw DecodingError.dataCorruptedError(
        in: container, debugDescription: "invalid IPv4 address \"\(text)\"")
    }
    self = address
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(description)
  }
}
