/// An IPv4 network: an address and a prefix length, "10.0.0.0/8".
///
/// The address is always stored masked (host bits zero), so two prefixes that denote the
/// same network are equal and hash alike — route tables and address groups rely on that.
/// Use `IPv4Prefix(address:length:)` with a host address to get its network.
public struct IPv4Prefix: Hashable, Sendable, Comparable {
  /// The network address (host bits cleared).
  public let address: IPv4Address
  /// The prefix length, 0...32.
  public let length: UInt8

  /// Creates the prefix of `length` bits containing `address`; host bits of `address` are
  /// cleared. Returns nil when `length` exceeds 32.
  public init?(address: IPv4Address, length: Int) {
    guard length >= 0, length <= 32 else { return nil }
    self.length = UInt8(length)
    self.address = IPv4Address(rawValue: address.rawValue & IPv4Prefix.maskBits(length))
  }

  /// 0.0.0.0/0, the default route.
  public static let any = IPv4Prefix(uncheckedAddress: .any, length: 0)

  /// A single host: address/32.
  public init(host: IPv4Address) {
    self.init(uncheckedAddress: host, length: 32)
  }

  private init(uncheckedAddress: IPv4Address, length: UInt8) {
    self.address = uncheckedAddress
    self.length = length
  }

  /// The netmask as an address, 255.255.255.0 for a /24.
  public var mask: IPv4Address { IPv4Address(rawValue: IPv4Prefix.maskBits(Int(length))) }
  /// The host mask (inverse netmask), 0.0.0.255 for a /24.
  public var hostMask: IPv4Address { IPv4Address(rawValue: ~IPv4Prefix.maskBits(Int(length))) }
  /// The first address of the network (the network address itself).
  public var first: IPv4Address { address }
  /// The last address of the network (the directed broadcast for /0.../30).
  public var last: IPv4Address { IPv4Address(rawValue: address.rawValue | hostMask.rawValue) }

  /// True when `candidate` is inside this network.
  public func contains(_ candidate: IPv4Address) -> Bool {
    candidate.rawValue & IPv4Prefix.maskBits(Int(length)) == address.rawValue
  }

  /// True when every address of `other` is inside this network.
  public func contains(_ other: IPv4Prefix) -> Bool {
    other.length >= length && contains(other.address)
  }

  /// True when the two networks share at least one address.
  public func overlaps(_ other: IPv4Prefix) -> Bool {
    contains(other) || other.contains(self)
  }

  /// The netmask for a prefix length, as host-order bits.
  public static func maskBits(_ length: Int) -> UInt32 {
    if length <= 0 { return 0 }
    if length >= 32 { return 0xFFFF_FFFF }
    return ~UInt32(0) << UInt32(32 - length)
  }

  /// Orders by network address, then by length (shorter first).
  public static func < (lhs: IPv4Prefix, rhs: IPv4Prefix) -> Bool {
    (lhs.address, lhs.length) < (rhs.address, rhs.length)
  }
}

extension IPv4Prefix: CustomStringConvertible, LosslessStringConvertible {
  /// Parses "10.0.0.0/8"; a bare address means /32. Host bits are cleared, so
  /// "10.1.2.3/8" is 10.0.0.0/8. Returns nil for anything else.
  public init?(_ description: String) {
    let parts = description.split(separator: "/", omittingEmptySubsequences: false)
    guard parts.count <= 2, let address = IPv4Address(String(parts[0])) else { return nil }
    if parts.count == 1 {
      self.init(host: address)
      return
    }
    let lengthText = parts[1]
    guard !lengthText.isEmpty, lengthText.count <= 2,
      lengthText.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
      let length = Int(lengthText)
    else { return nil }
    self.init(address: address, length: length)
  }

  /// "10.0.0.0/8".
  public var description: String { "\(address)/\(length)" }
}

extension IPv4Prefix: Codable {
  /// Encoded as its text form, "10.0.0.0/8".
  public init(from decoder: any Decoder) throws {
    let container = try decoder.singleValueContainer()
    let text = try container.decode(String.self)
    guard let prefix = IPv4Prefix(text) else {
      throw DecodingError.dataCorruptedError(
        in: container, debugDescription: "invalid IPv4 prefix \"\(text)\"")
    }
    self = prefix
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(description)
  }
}
