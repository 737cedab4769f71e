/// An IPv4 prefix (CIDR block): an address and a length 0...32.
///
/// The address is kept exactly as given, host bits included, because a
/// router port's subnet is sometimes written as the port's own address with
/// its length (`10.0.0.1/24`) and a codec must round-trip what it read.
/// Everything that *compares* prefixes as sets of addresses — `contains`,
/// `network`, `canonical` — ignores the host bits, so `10.0.0.1/24` and
/// `10.0.0.0/24` contain the same addresses; use `canonical` before using a
/// prefix as a dictionary key (a route table, say).
public struct IPv4Prefix: Hashable, Sendable, LosslessStringConvertible, Codable {
  public var address: IPv4Address
  /// Number of leading network bits, 0...32.
  public var length: Int

  /// - Precondition: `length` is in 0...32.
  public init(_ address: IPv4Address, length: Int) {
    precondition((0...32).contains(length), "IPv4 prefix length \(length) is outside 0...32")
    self.address = address
    self.length = length
  }

  /// `0.0.0.0/0`, which contains every address (the default route).
  public static let all = IPv4Prefix(.any, length: 0)

  /// A /32 holding exactly `address`.
  public static func host(_ address: IPv4Address) -> IPv4Prefix {
    IPv4Prefix(address, length: 32)
  }

  /// Parses `a.b.c.d/n`. The length is mandatory (a bare address is not a
  /// prefix; say `/32` when you mean one host) and must be decimal 0...32
  /// without leading zeros.
  public init(parsing text: some StringProtocol) throws(ParseError) {
    func fail(_ why: String) -> ParseError {
      ParseError(
        code: .invalidIPv4Prefix, message: "'\(text)' is not an IPv4 prefix: \(why)",
        input: String(text))
    }
    guard let slash = text.firstIndex(of: "/") else { throw fail("missing '/length'") }
    let address: IPv4Address
    do {
      address = try IPv4Address(parsing: text[text.startIndex..<slash])
    } catch {
      throw fail(error.message)
    }
    let lengthText = text[text.index(after: slash)...]
    guard !lengthText.isEmpty, lengthText.utf8.count <= 2,
      lengthText.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
      lengthText == "0" || lengthText.first != "0",
      let length = Int(lengthText), length <= 32
    else { throw fail("length must be 0...32") }
    self.init(address, length: length)
  }

  public init?(_ description: String) {
    guard let parsed = try? IPv4Prefix(parsing: description) else { return nil }
    self = parsed
  }

  public var description: String { "\(address)/\(length)" }

  /// The netmask as a number: `/24` is `0xFFFF_FF00`, `/0` is zero.
  public var mask: UInt32 {
    length == 0 ? 0 : UInt32.max << UInt32(32 - length)
  }

  /// The netmask as an address: `/24` is `255.255.255.0`.
  public var netmask: IPv4Address { IPv4Address(rawValue: mask) }

  /// The first address of the block (host bits cleared).
  public var network: IPv4Address { IPv4Address(rawValue: address.rawValue & mask) }

  /// The last address of the block (host bits set), the subnet broadcast.
  public var broadcast: IPv4Address { IPv4Address(rawValue: address.rawValue | ~mask) }

  /// The same block with host bits cleared: `10.0.0.1/24` → `10.0.0.0/24`.
  public var canonical: IPv4Prefix { IPv4Prefix(network, length: length) }

  /// Whether the address has no host bits set.
  public var isCanonical: Bool { address.rawValue & ~mask == 0 }

  /// Whether `candidate` lies in this block.
  public func contains(_ candidate: IPv4Address) -> Bool {
    candidate.rawValue & mask == address.rawValue & mask
  }

  /// Whether every address of `other` lies in this block.
  public func contains(_ other: IPv4Prefix) -> Bool {
    other.length >= length && contains(other.address)
  }

  /// Encoded as the `a.b.c.d/n` string.
  public init(from decoder: any Decoder) throws {
    let container = try decoder.singleValueContainer()
    let text = try container.decode(String.self)
    do {
      self = try IPv4Prefix(parsing: text)
    } catch {
      throw DecodingError.dataCorruptedError(in: container, debugDescription: error.message)
    }
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(description)
  }
}
