/// An IPv4 address, held as a host-order `UInt32` (10.0.0.1 is 0x0A00_0001).
///
/// A thin wrapper rather than a bare `UInt32` so that addresses cannot be confused with
/// ports, keys or counters in flow keys and topology objects, while costing nothing more
/// than the integer: hashing, comparing and masking stay single instructions, and a wire
/// codec maps it 1:1.
public struct IPv4Address: RawRepresentable, Hashable, Comparable, Sendable {
  /// The address in host byte order.
  public let rawValue: UInt32

  /// Wraps a host-order integer.
  @inlinable
  public init(rawValue: UInt32) {
    self.rawValue = rawValue
  }

  /// Creates an address from its four octets, most significant first: `(10, 0, 0, 1)`.
  @inlinable
  public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
    self.rawValue = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
  }

  /// 0.0.0.0: "this host" as an ARP probe's sender, or "no address".
  public static let any = IPv4Address(rawValue: 0)
  /// 255.255.255.255, the limited broadcast address.
  public static let broadcast = IPv4Address(rawValue: 0xFFFF_FFFF)

  /// The four octets, most significant first.
  @inlinable
  public var octets: (UInt8, UInt8, UInt8, UInt8) {
    (
      UInt8(truncatingIfNeeded: rawValue >> 24), UInt8(truncatingIfNeeded: rawValue >> 16),
      UInt8(truncatingIfNeeded: rawValue >> 8), UInt8(truncatingIfNeeded: rawValue)
    )
  }

  /// The four octets as an array, most significant first, for codecs and hashing.
  public var bytes: [UInt8] {
    let (a, b, c, d) = octets
    return [a, b, c, d]
  }

  /// True for 0.0.0.0.
  @inlinable public var isUnspecified: Bool { rawValue == 0 }
  /// True for 255.255.255.255.
  @inlinable public var isBroadcast: Bool { rawValue == 0xFFFF_FFFF }
  /// True for 224.0.0.0/4: routers must not answer these with ICMP errors.
  @inlinable public var isMulticast: Bool { rawValue >> 28 == 0xE }
  /// True for 127.0.0.0/8.
  @inlinable public var isLoopback: Bool { rawValue >> 24 == 127 }
  /// True for 169.254.0.0/16.
  @inlinable public var isLinkLocal: Bool { rawValue >> 16 == 0xA9FE }

  @inlinable
  public static func < (lhs: IPv4Address, rhs: IPv4Address) -> Bool {
    lhs.rawValue < rhs.rawValue
  }
}

extension IPv4Address: CustomStringConvertible, LosslessStringConvertible {
  /// Parses strict dotted-quad notation: four decimal octets 0...255, no leading zeros
  /// (`010` is octal 8 to `inet_aton` and 10 to others), no shorthand such as `10.1`, no
  /// whitespace.
  public init(parsing text: some StringProtocol) throws(ParseError) {
    func fail(_ why: String) -> ParseError {
      ParseError(
        code: .invalidIPv4Address, message: "'\(text)' is not an IPv4 address: \(why)",
        input: String(text))
    }
    var result: UInt32 = 0
    var dots = 0
    var current: UInt32 = 0
    var digits = 0
    for byte in text.utf8 {
      if byte == UInt8(ascii: ".") {
        guard digits > 0 else { throw fail("empty octet") }
        dots += 1
        guard dots < 4 else { throw fail("more than four octets") }
        result = result << 8 | current
        current = 0
        digits = 0
      } else if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
        if digits == 1 && current == 0 { throw fail("leading zero") }
        digits += 1
        current = current * 10 + UInt32(byte - UInt8(ascii: "0"))
        guard digits <= 3 && current <= 255 else { throw fail("octet above 255") }
      } else {
        throw fail("unexpected character")
      }
    }
    guard digits > 0 else { throw fail("empty octet") }
    guard dots == 3 else { throw fail("expected four octets") }
    self.init(rawValue: result << 8 | current)
  }

  /// As `init(parsing:)`, for callers that only need to know whether it parsed.
  public init?(_ description: String) {
    guard let parsed = try? IPv4Address(parsing: description) else { return nil }
    self = parsed
  }

  /// The dotted quad, "10.0.0.1".
  public var description: String {
    let (a, b, c, d) = octets
    return "\(a).\(b).\(c).\(d)"
  }
}

extension IPv4Address: Codable {
  /// Encoded as its dotted quad, so configuration files, YAML and JSON stay readable.
  public init(from decoder: any Decoder) throws {
    let container = try decoder.singleValueContainer()
    let text = try container.decode(String.self)
    do {
      self = try IPv4Address(parsing: text)
    } catch {
      throw DecodingError.dataCorruptedError(in: container, debugDescription: error.message)
    }
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(description)
  }
}
