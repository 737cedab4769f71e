import Packets

/// The deterministic hash that spreads flows over equal-cost routes and picks
/// NAT ports.
///
/// Not Swift's `Hasher`: that is seeded per process, so two agents (or one
/// agent after a restart) would pick different routes and ports for the same
/// flow. This one is a fixed function of the 5-tuple — the only "randomness"
/// the simulator has, and the same on every host.
enum FlowHash {
  static func of(_ match: FlowMatch) -> UInt64 {
    guard let tuple = FlowTuple(match) else {
      return mix(match.ethernetSource.rawValue ^ mix(match.ethernetDestination.rawValue))
    }
    let addresses = UInt64(tuple.source.rawValue) << 32 | UInt64(tuple.destination.rawValue)
    let ports =
      UInt64(tuple.ipProtocol) << 32 | UInt64(tuple.sourcePort) << 16
      | UInt64(tuple.destinationPort)
    return mix(addresses ^ mix(ports))
  }

  /// MurmurHash3's 64-bit finalizer.
  static func mix(_ input: UInt64) -> UInt64 {
    var k = input
    k ^= k >> 33
    k &*= 0xff51_afd7_ed55_8ccd
    k ^= k >> 33
    k &*= 0xc4ce_b9fe_1a85_ec53
    k ^= k >> 33
    return k
  }
}
