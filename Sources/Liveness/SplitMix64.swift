import Topology

/// Steele, Lea and Flood's SplitMix64: a tiny, fast, deterministic generator.
///
/// The monitor draws its send jitter and its discriminators from one of these seeded from the
/// host id, so that two runs with the same inputs produce the same directives at the same
/// times (tests and simulations are reproducible) while different hosts still jitter
/// differently (their hellos do not synchronise). The tests draw their inputs from it too.
/// Not for anything secret.
public struct SplitMix64: RandomNumberGenerator, Sendable {
  private var state: UInt64

  /// A generator whose sequence is fixed by `seed`.
  public init(seed: UInt64) {
    state = seed
  }

  /// A generator seeded from `id`, mixing both halves so ids that differ anywhere differ.
  init(seed id: ID) {
    state = id.high ^ (id.low &* 0x9E37_79B9_7F4A_7C15) ^ 0x4D4C_5601_0000_0000
  }

  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
