/// An opaque reason a flow may have to be removed: a device, a device and a MAC, a
/// route... The datapath does not know what it names; the agent derives it (for example
/// by hashing the simulator's tag to 128 bits) and invalidates it when the thing changes.
///
/// Two words rather than a topology enum so the datapath does not depend on Topology or
/// Simulation, and so indexing and comparing a tag costs two machine words. Named for
/// what it holds — the hash of a `Simulation.FlowTag` (`FlowTagHasher` in Agent) — so the
/// two tag types never clash in a file that imports both modules.
public struct FlowTagHash: Hashable, Sendable, CustomStringConvertible {
  /// The high word.
  public var high: UInt64
  /// The low word.
  public var low: UInt64

  /// Creates a tag from its two words.
  public init(high: UInt64, low: UInt64) {
    self.high = high
    self.low = low
  }

  /// A tag from one word (high word 0); handy for tests and simple callers.
  public init(_ value: UInt64) {
    self.init(high: 0, low: value)
  }

  public var description: String {
    "tag:" + hex(high) + hex(low)
  }

  private func hex(_ value: UInt64) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: 16 - digits.count) + digits
  }
}
