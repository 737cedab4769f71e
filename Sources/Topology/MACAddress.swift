/// A 48-bit Ethernet MAC address, kept in the low 48 bits of a `UInt64`.
///
/// A number rather than six bytes because rule conditions compare MACs under
/// a mask (`dlSrcMask`), which is then a single AND, and because a codec can
/// carry it as one integer field.
public struct MACAddress: Hashable, Comparable, Sendable, LosslessStringConvertible, Codable {
  /// The address as a number; bits above 47 are always zero.
  public private(set) var value: UInt64

  /// Keeps only the low 48 bits of `value`.
  public init(_ value: UInt64) {
    self.value = value & 0xFFFF_FFFF_FFFF
  }

  /// Builds an address from six bytes in transmission order.
  /// - Precondition: `bytes.count == 6`.
  public init(bytes: some Collection<UInt8>) {
    precondition(bytes.count == 6, "a MAC address has 6 bytes, got \(bytes.count)")
    self.value = bytes.reduce(0) { $0 << 8 | UInt64($1) }
  }

  /// `00:00:00:00:00:00`.
  public static let zero = MACAddress(0)
  /// `ff:ff:ff:ff:ff:ff`; also the all-ones mask that compares every bit.
  public static let broadcast = MACAddress(0xFFFF_FFFF_FFFF)

  /// Parses six colon-separated pairs of hex digits, either case
  /// (`02:00:5e:10:00:01`). Printing is always lowercase.
  public init(parsing text: some StringProtocol) throws(ParseError) {
    let bytes = Array(text.utf8)
    guard bytes.count == 17 else {
      throw ParseError(
        code: .invalidMACAddress,
        message: "'\(text)' is not a MAC address: expected xx:xx:xx:xx:xx:xx",
        input: String(text))
    }
    var result: UInt64 = 0
    for (index, byte) in bytes.enumerated() {
      if index % 3 == 2 {
        guard byte == UInt8(ascii: ":") else {
          throw ParseError(
            code: .invalidMACAddress, message: "'\(text)' is not a MAC address: expected ':'",
            input: String(text))
        }
      } else {
        guard let nibble = Hex.value(byte) else {
          throw ParseError(
            code: .invalidMACAddress, message: "'\(text)' is not a MAC address: bad hex digit",
            input: String(text))
        }
        result = result << 4 | UInt64(nibble)
      }
    }
    self.value = result
  }

  public init?(_ description: String) {
    guard let parsed = try? MACAddress(parsing: description) else { return nil }
    self = parsed
  }

  /// The six bytes in transmission order.
  public var bytes: [UInt8] {
    (0..<6).map { UInt8(truncatingIfNeeded: value >> UInt64(40 - 8 * $0)) }
  }

  public var description: String {
    var out: [UInt8] = []
    out.reserveCapacity(17)
    for index in 0..<6 {
      if index > 0 { out.append(UInt8(ascii: ":")) }
      Hex.append(value >> UInt64(40 - 8 * index), digits: 2, to: &out)
    }
    return String(decoding: out, as: UTF8.self)
  }

  /// The group bit (least significant bit of the first byte): multicast or broadcast.
  public var isMulticast: Bool { value & 0x0100_0000_0000 != 0 }

  public var isBroadcast: Bool { self == .broadcast }

  public var isUnicast: Bool { !isMulticast }

  public static func < (lhs: MACAddress, rhs: MACAddress) -> Bool {
    lhs.value < rhs.value
  }

  /// Encoded as the colon-separated string.
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
