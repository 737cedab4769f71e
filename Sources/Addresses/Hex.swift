/// ASCII hex digits, shared by the text forms of MAC addresses here and of ids in
/// `Topology`, so that both read and print hex the same way.
public enum Hex {
  @usableFromInline static let lowercaseDigits: [UInt8] = Array("0123456789abcdef".utf8)

  /// The value of one ASCII hex digit (either case), or nil.
  @inlinable
  public static func value(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
    default: return nil
    }
  }

  /// Appends `count` lowercase hex digits of `value` (most significant first).
  public static func append(_ value: UInt64, digits count: Int, to out: inout [UInt8]) {
    for index in stride(from: count - 1, through: 0, by: -1) {
      out.append(lowercaseDigits[Int((value >> UInt64(index * 4)) & 0xF)])
    }
  }
}
