import Addresses
import Packets

/// A `FlowMatch` packed into nine machine words with its hash computed once.
///
/// The packing is lossless (every field the match compares is kept, with presence bits
/// so an absent field differs from a zero one), so two keys are equal exactly when their
/// matches are. Equality is nine word compares after a hash compare, and the hash is
/// wyhash-style folded multiplies of word pairs XORed with per-process random secrets:
/// a few nanoseconds, against the tens that `Hasher` (SipHash) costs for the same words. The flow table
/// keeps the hash with the key and never recomputes it, also when it grows.
public struct FlowKey: Hashable, Sendable {
  @usableFromInline var w0: UInt64
  @usableFromInline var w1: UInt64
  @usableFromInline var w2: UInt64
  @usableFromInline var w3: UInt64
  @usableFromInline var w4: UInt64
  @usableFromInline var w5: UInt64
  @usableFromInline var w6: UInt64
  @usableFromInline var w7: UInt64
  @usableFromInline var w8: UInt64
  /// The key's 64-bit hash, computed when the key is made.
  public let hash: UInt64

  /// Packs `match` and hashes it.
  @inlinable
  public init(_ match: FlowMatch) {
    var presence: UInt64 = 0
    if match.vlanID != nil { presence |= 1 << 0 }
    if match.networkSource != nil { presence |= 1 << 1 }
    if match.networkDestination != nil { presence |= 1 << 2 }
    if match.networkProtocol != nil { presence |= 1 << 3 }
    if match.networkTOS != nil { presence |= 1 << 4 }
    if match.networkTTL != nil { presence |= 1 << 5 }
    if match.transportSource != nil { presence |= 1 << 6 }
    if match.transportDestination != nil { presence |= 1 << 7 }
    if match.icmpEchoID != nil { presence |= 1 << 8 }
    if match.tcpFlags != nil { presence |= 1 << 9 }
    if match.arpOperation != nil { presence |= 1 << 10 }
    if match.arpSenderHardwareAddress != nil { presence |= 1 << 11 }
    if match.arpSenderProtocolAddress != nil { presence |= 1 << 12 }
    if match.arpTargetHardwareAddress != nil { presence |= 1 << 13 }
    if match.arpTargetProtocolAddress != nil { presence |= 1 << 14 }
    presence |= UInt64(match.fragmentType.rawValue) << 16

    w0 = UInt64(match.ingressPort) << 32 | UInt64(match.tunnelKey)
    w1 = match.ethernetSource.rawValue << 16 | UInt64(match.etherType.rawValue)
    w2 = match.ethernetDestination.rawValue << 16 | UInt64(match.vlanID ?? 0)
    w3 =
      UInt64(match.networkSource?.rawValue ?? 0) << 32
      | UInt64(match.networkDestination?.rawValue ?? 0)
    var l3 = UInt64(match.networkProtocol?.rawValue ?? 0)
    l3 |= UInt64(match.networkTOS ?? 0) << 8 | UInt64(match.networkTTL ?? 0) << 16
    l3 |= UInt64(match.arpOperation?.rawValue ?? 0) << 24 | presence << 40
    w4 = l3
    var l4 = UInt64(match.transportSource ?? 0) << 48
    l4 |= UInt64(match.transportDestination ?? 0) << 32
    l4 |= UInt64(match.icmpEchoID ?? 0) << 16 | UInt64(match.tcpFlags?.rawValue ?? 0)
    w5 = l4
    w6 = match.arpSenderHardwareAddress?.rawValue ?? 0
    w7 = match.arpTargetHardwareAddress?.rawValue ?? 0
    w8 =
      UInt64(match.arpSenderProtocolAddress?.rawValue ?? 0) << 32
      | UInt64(match.arpTargetProtocolAddress?.rawValue ?? 0)

    // Three independent multiplies, then one more: two multiply latencies in all.
    let secrets = FlowKey.secrets
    var a = FlowKey.fold(w0 ^ secrets.0, w1 ^ secrets.1)
    let b = FlowKey.fold(w2 ^ secrets.2, w3 ^ secrets.3)
    let c = FlowKey.fold(w4 ^ secrets.4, w5 ^ secrets.5)
    if match.arpOperation != nil {
      a ^= FlowKey.fold(w6 ^ secrets.1, w7 ^ secrets.2) ^ FlowKey.fold(w8 ^ secrets.3, secrets.4)
    }
    hash = FlowKey.fold(a ^ b ^ secrets.0, c ^ secrets.5)
  }

  /// The ingress port of the packed match.
  @inlinable
  public var ingressPort: UInt32 { UInt32(truncatingIfNeeded: w0 >> 32) }

  @inlinable
  public static func == (lhs: FlowKey, rhs: FlowKey) -> Bool {
    lhs.hash == rhs.hash && lhs.w0 == rhs.w0 && lhs.w1 == rhs.w1 && lhs.w2 == rhs.w2
      && lhs.w3 == rhs.w3 && lhs.w4 == rhs.w4 && lhs.w5 == rhs.w5 && lhs.w6 == rhs.w6
      && lhs.w7 == rhs.w7 && lhs.w8 == rhs.w8
  }

  @inlinable
  public func hash(into hasher: inout Hasher) {
    hasher.combine(hash)
  }

  /// Random per-process secrets, so that which keys collide cannot be predicted from
  /// outside. Odd, with their high bits set, so no factor is trivially small.
  @usableFromInline static let secrets: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = {
    var generator = SystemRandomNumberGenerator()
    func secret() -> UInt64 { generator.next() | 0x8000_0000_0000_0001 }
    return (secret(), secret(), secret(), secret(), secret(), secret())
  }()

  /// The folded 128-bit product (as in wyhash): high half XOR low half.
  @inlinable @inline(__always)
  static func fold(_ x: UInt64, _ y: UInt64) -> UInt64 {
    let product = x.multipliedFullWidth(by: y)
    return product.high ^ product.low
  }
}
