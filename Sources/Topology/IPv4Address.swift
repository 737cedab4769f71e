/// An IPv4 address, stored as the 32-bit number in host order.
///
/// TopologySnapshot keeps its own small address types rather than depending on
/// `Packets` (the two modules sit beside each other in the layer diagram);
/// the representation is a plain `UInt32` so a wire codec maps it 1:1 and the
/// simulator can convert with a single initializer call.
public struct IPv4Address: Hashable, Comparable, Sendable, LosslessStringConvertible, Codable {
  /// The address as a number: `10.0.0.1` is `0x0A00_0001`.
  public var value: UInt32

  public init(_ value: UInt32) {
    self.value = value
  }

  /// Builds an address from its four dotted-quad octets, most significant first.
  public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
    self.value = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
  }

  /// `0.0.0.0`.
  public static let any = IPv4Address(0)
  /// `255.255.255.255`, the limited broadcast address.
  public static let broadcast = IPv4Address(UInt32.max)

  /// Parses strict dotted-quad notation: four decimal octets 0...255, no
  /// leading zeros (so `010` cannot be mistaken for octal), no whitespace.
  public init(parsing text: some StringProtocol) throws(ParseError) {
    func fail(_ why: String) -> ParseError {
      ParseError(
        code: .invalidIPv4Address, message: "'\(text)' is not an IPv4 address: \(why)",
        input: String(text))
    }
    var result: UInt32 = 0
    var octets = 0
    var current: UInt32 = 0
    var digits = 0
    for byte in text.utf8 {
      if byte == UInt8(ascii: ".") {
        guard digits > 0 else { throw fail("empty octet") }
        octets += 1
        guard octets < 4 else { throw fail("more than four octets") }
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
    guard octets == 3 else { throw fail("expected four octets") }
    self.value = result << 8 | current
  }

  public init?(_ description: String) {
    guard let parsed = try? IPv4Address(parsing: description) else { return nil }
    self = parsed
  }

  /// The four octets, most significant first.
  public var octets: [UInt8] {
    [
      UInt8(value >> 24), UInt8(truncatingIfNeeded: value >> 16),
      UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value),
    ]
  }

  public var description: String {
    octets.map { String($0) }.joined(separator: ".")
  }

  public static func < (lhs: IPv4Address, rhs: IPv4Address) -> Bool {
    lhs.value < rhs.value
  }

  /// Encoded as the dotted-quad string, so YAML and JSON stay readable.
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
