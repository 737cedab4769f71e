/// FNV-1a with a 128-bit state (Fowler–Noll–Vo, draft-eastlake-fnv).
///
/// Used only to derive ids from names (`ID(name:namespace:)`), where the
/// result must be identical on every machine and run — which rules out
/// Swift's `Hasher`, whose seed changes per process. Implemented by hand on
/// two `UInt64` halves because the standard library has no 128-bit multiply
/// by a 128-bit constant; the FNV prime 2^88 + 0x13B makes it cheap.
struct FNV1a128 {
  private(set) var high: UInt64 = 0x6c62_272e_07bb_0142
  private(set) var low: UInt64 = 0x62b8_2175_6295_c58d

  /// Folds in one byte: xor into the low byte, then multiply by the prime
  /// modulo 2^128.
  mutating func combine(_ byte: UInt8) {
    low ^= UInt64(byte)
    // (high·2^64 + low) · (2^88 + 0x13B) mod 2^128
    //   = low·0x13B + (high·0x13B + (low << 24))·2^64   (the high·2^152 term vanishes)
    let product = low.multipliedFullWidth(by: 0x13B)
    high = high &* 0x13B &+ product.high &+ (low << 24)
    low = product.low
  }

  /// Folds in a 64-bit word as eight bytes, most significant first.
  mutating func combine(_ word: UInt64) {
    for shift in stride(from: 56, through: 0, by: -8) {
      combine(UInt8(truncatingIfNeeded: word >> UInt64(shift)))
    }
  }

  mutating func combine(_ bytes: some Sequence<UInt8>) {
    for byte in bytes { combine(byte) }
  }
}
