import Datapath
import Packets
import Simulation
import Topology

/// Turns the simulator's flow tags (what a flow depended on, in topology terms) into the
/// datapath's two-word tags.
///
/// Why a hash: the datapath indexes flows by tag on the packet threads, so a tag must be
/// two machine words, not an enum of ids. The mapping is a fixed function of the tag, so
/// the agent derives the same word pair when it invalidates as when it installed. A
/// collision removes a few extra flows (they are simulated again), never too few.
public enum FlowTagHasher {
  /// The datapath tag for `tag`.
  public static func hash(_ tag: FlowTag) -> FlowTagHash {
    switch tag {
    case .device(let id): return mix(1, id)
    case .port(let id): return mix(2, id)
    case .chain(let id): return mix(3, id)
    case .bridgeMAC(let bridge, let vlan, let mac):
      return mix(4, bridge, mac.rawValue << 16 | UInt64(vlan))
    case .routerDestination(let router, let ip): return mix(5, router, UInt64(ip.rawValue))
    case .route(let id): return mix(6, id)
    case .arpEntry(let router, let ip): return mix(7, router, UInt64(ip.rawValue))
    case .portGroup(let id): return mix(8, id)
    case .ipAddrGroup(let id): return mix(9, id)
    case .conntrack(let key): return mix(10, key.device, tupleWord(key.tuple))
    case .nat(let key): return mix(11 + UInt64(key.kind.rawValue), key.device, tupleWord(key.tuple))
    }
  }

  /// A connection's five-tuple folded into one word (a collision only costs extra work).
  private static func tupleWord(_ tuple: FlowTuple) -> UInt64 {
    let addresses = UInt64(tuple.source.rawValue) << 32 | UInt64(tuple.destination.rawValue)
    let ports =
      UInt64(tuple.sourcePort) << 24 | UInt64(tuple.destinationPort) << 8
      | UInt64(tuple.ipProtocol)
    return splitmix(addresses) ^ ports
  }

  /// The datapath tags for `tags`, without duplicates.
  public static func hash(_ tags: [FlowTag]) -> [FlowTagHash] {
    // Flows carry a handful of tags: a linear scan beats a set's allocation.
    var result: [FlowTagHash] = []
    result.reserveCapacity(tags.count)
    for tag in tags {
      let hashed = hash(tag)
      if !result.contains(hashed) { result.append(hashed) }
    }
    return result
  }

  private static func mix(_ kind: UInt64, _ id: ID, _ extra: UInt64 = 0) -> FlowTagHash {
    let high = splitmix(id.high ^ splitmix(kind &* 0x9E37_79B9_7F4A_7C15 ^ extra))
    let low = splitmix(id.low ^ splitmix(high ^ extra ^ kind))
    return FlowTagHash(high: high, low: low)
  }

  /// SplitMix64's finaliser: a bijective mix of one word.
  private static func splitmix(_ value: UInt64) -> UInt64 {
    var z = value &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
