import Addresses

/// The identity of every topology object: a 128-bit UUID.
///
/// Midge has no Foundation dependency in its value layers, so this is its own
/// small UUID type — two `UInt64`s, most significant first — printed in the
/// canonical lowercase `8-4-4-4-12` form that ZooKeeper paths
/// (`/midge/v1/models/Port/<id>`) and YAML files use.
///
/// Ids come from one of two places:
/// - `ID.random(using:)` — a version-4 UUID for objects created at run time.
/// - `ID(name:namespace:)` — a deterministic id derived from a name, so a
///   declarative topology file (`midgectl apply`) names the same object on
///   every run and on every machine, which is what makes `apply` idempotent.
public struct ID: Hashable, Comparable, Sendable, LosslessStringConvertible, Codable {
  /// Bytes 0...7 of the UUID (time_low, time_mid, version + time_hi), big-endian.
  public var high: UInt64
  /// Bytes 8...15 of the UUID (variant + clock_seq, node), big-endian.
  public var low: UInt64

  public init(high: UInt64, low: UInt64) {
    self.high = high
    self.low = low
  }

  /// The nil UUID, `00000000-0000-0000-0000-000000000000`.
  public static let zero = ID(high: 0, low: 0)

  /// The namespace under which Midge derives ids from names, itself derived
  /// from the name `midge` under the nil namespace so it needs no magic literal.
  public static let midgeNamespace = ID(name: "midge", namespace: .zero)

  // MARK: Name-derived ids

  /// A deterministic id for `name` within `namespace`.
  ///
  /// The 128 bits are FNV-1a-128 over the namespace's 16 bytes (big-endian)
  /// followed by the UTF-8 bytes of `name`, passed through a fixed bijective
  /// mixing step (three Feistel rounds of the MurmurHash3 64-bit finalizer) so
  /// that names differing in one character differ in every part of the id;
  /// then the version nibble is set to 8 and the variant to RFC 4122/9562.
  ///
  /// Version 8 ("custom", RFC 9562) rather than 5, because version 5 promises
  /// SHA-1 and this is not SHA-1. The recipe uses only integer arithmetic on
  /// explicit bytes — no `Hasher` (seeded per process), no platform word size,
  /// no locale — so **the same namespace and name give the same id on every
  /// run, every machine and every Swift version**. Changing the recipe would
  /// rename every object created from a topology file; don't.
  ///
  /// This is an identifier, not a cryptographic commitment: do not rely on it
  /// to keep names secret or to resist deliberately crafted collisions.
  public init(name: some StringProtocol, namespace: ID = .midgeNamespace) {
    var hash = FNV1a128()
    hash.combine(namespace.high)
    hash.combine(namespace.low)
    for byte in name.utf8 { hash.combine(byte) }
    var (a, b) = (hash.high, hash.low)
    b ^= Self.fmix64(a)
    a ^= Self.fmix64(b)
    b ^= Self.fmix64(a)
    self.init(high: a, low: b)
    setVersion(8)
  }

  /// MurmurHash3's 64-bit finalizer: a bijection with full avalanche.
  static func fmix64(_ input: UInt64) -> UInt64 {
    var k = input
    k ^= k >> 33
    k &*= 0xff51_afd7_ed55_8ccd
    k ^= k >> 33
    k &*= 0xc4ce_b9fe_1a85_ec53
    k ^= k >> 33
    return k
  }

  // MARK: Random ids

  /// A random (version-4) id drawn from `generator`.
  ///
  /// Taking the generator as a parameter lets tests and simulations use a
  /// seeded generator and get reproducible ids.
  public static func random(using generator: inout some RandomNumberGenerator) -> ID {
    var id = ID(high: generator.next(), low: generator.next())
    id.setVersion(4)
    return id
  }

  /// A random (version-4) id from the system generator.
  public static func random() -> ID {
    var generator = SystemRandomNumberGenerator()
    return random(using: &generator)
  }

  /// The UUID version nibble (4 for random ids, 8 for name-derived ids).
  public var version: Int { Int((high >> 12) & 0xF) }

  /// Whether the variant bits are the RFC 4122/9562 `10` pattern.
  public var isRFCVariant: Bool { low >> 62 == 0b10 }

  private mutating func setVersion(_ version: UInt64) {
    high = (high & ~0xF000) | (version << 12)
    low = (low & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000
  }

  // MARK: Text

  /// Parses `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (hex digits of either
  /// case; exactly 36 characters, hyphens in their canonical places).
  /// Any version and variant are accepted: ids are opaque once made.
  public init(parsing text: some StringProtocol) throws(ParseError) {
    let bytes = Array(text.utf8)
    guard bytes.count == 36 else {
      throw ParseError(
        code: .invalidID, message: "'\(text)' is not an id: expected 36 characters",
        input: String(text))
    }
    var high: UInt64 = 0
    var low: UInt64 = 0
    var nibbles = 0
    for (index, byte) in bytes.enumerated() {
      if index == 8 || index == 13 || index == 18 || index == 23 {
        guard byte == UInt8(ascii: "-") else {
          throw ParseError(
            code: .invalidID, message: "'\(text)' is not an id: expected '-' at offset \(index)",
            input: String(text))
        }
        continue
      }
      guard let nibble = Hex.value(byte) else {
        throw ParseError(
          code: .invalidID, message: "'\(text)' is not an id: bad hex digit at offset \(index)",
          input: String(text))
      }
      if nibbles < 16 {
        high = high << 4 | UInt64(nibble)
      } else {
        low = low << 4 | UInt64(nibble)
      }
      nibbles += 1
    }
    self.init(high: high, low: low)
  }

  public init?(_ description: String) {
    guard let parsed = try? ID(parsing: description) else { return nil }
    self = parsed
  }

  /// The canonical lowercase `8-4-4-4-12` form.
  public var description: String {
    var out: [UInt8] = []
    out.reserveCapacity(36)
    Hex.append(high >> 32, digits: 8, to: &out)
    out.append(UInt8(ascii: "-"))
    Hex.append(high >> 16, digits: 4, to: &out)
    out.append(UInt8(ascii: "-"))
    Hex.append(high, digits: 4, to: &out)
    out.append(UInt8(ascii: "-"))
    Hex.append(low >> 48, digits: 4, to: &out)
    out.append(UInt8(ascii: "-"))
    Hex.append(low, digits: 12, to: &out)
    return String(decoding: out, as: UTF8.self)
  }

  /// Orders by the 128-bit value, which is also the order of the text form;
  /// used wherever Midge needs a deterministic iteration order.
  public static func < (lhs: ID, rhs: ID) -> Bool {
    (lhs.high, lhs.low) < (rhs.high, rhs.low)
  }

  /// Encoded as the canonical string.
  public init(from decoder: any Decoder) throws {
    let container = try decoder.singleValueContainer()
    let text = try container.decode(String.self)
    do {
      self = try ID(parsing: text)
    } catch {
      throw DecodingError.dataCorruptedError(in: container, debugDescription: error.message)
    }
  }

  public func encode(to encoder: any Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(description)
  }
}
