import Addresses

/// The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
///
/// IPv4, ICMP, TCP and UDP all use the 16-bit ones' complement of the ones' complement
/// sum of the covered bytes. Sums are carried in a `UInt32` (or wider) "partial sum"
/// so that pieces — the pseudo-header, the header, the payload — can be added
/// separately and folded once at the end. Every piece except the last must have an even
/// length, which is always true of the layouts here.
///
/// The datapath rewrites addresses, ports and TTLs on the fast path (NAT, routing). Re-
/// summing a 1500-byte segment for a 4-byte change would dominate the cost, so
/// `Checksum.update` adjusts an existing checksum from the old and new field values
/// alone, with RFC 1624's equation 3, `HC' = ~(~HC + ~m + m')`, which (unlike RFC 1141's
/// form) never produces the invalid 0xFFFF from a non-zero sum.
public enum Checksum {
  /// The ones' complement sum of `bytes` (big-endian 16-bit words, an odd last byte
  /// padded with zero) added to `initial`, not yet folded or complemented.
  public static func partialSum(_ bytes: UnsafeRawBufferPointer, initial: UInt32 = 0) -> UInt32 {
    // Sum 32-bit native-order words into 64 bits; ones' complement addition commutes
    // with byte swapping (RFC 1071 §2(B)), so the order is fixed once after folding.
    var wide: UInt64 = 0
    var index = 0
    let count = bytes.count
    while count - index >= 4 {
      wide &+= UInt64(bytes.loadUnaligned(fromByteOffset: index, as: UInt32.self))
      index += 4
    }
    var folded = fold64(wide)
    #if _endian(little)
      folded = folded.byteSwapped
    #endif
    var sum = UInt32(folded) &+ UInt32(fold32(initial))
    while count - index >= 2 {
      sum &+= UInt32(bytes.readUInt16(at: index))
      index += 2
    }
    if index < count {
      sum &+= UInt32(bytes.readUInt8(at: index)) << 8
    }
    return UInt32(fold32(sum))
  }

  /// The ones' complement sum of `bytes` added to `initial`.
  public static func partialSum(_ bytes: [UInt8], initial: UInt32 = 0) -> UInt32 {
    bytes.withUnsafeBytes { partialSum($0, initial: initial) }
  }

  /// Folds a partial sum to 16 bits and complements it: the value to store in a
  /// checksum field.
  public static func finish(_ sum: UInt32) -> UInt16 {
    ~fold32(sum)
  }

  /// The Internet checksum of `bytes` (checksum field included as it is: zero it first
  /// to compute, leave it to verify — a correct packet verifies to 0).
  public static func compute(_ bytes: UnsafeRawBufferPointer) -> UInt16 {
    finish(partialSum(bytes))
  }

  /// The Internet checksum of `bytes`.
  public static func compute(_ bytes: [UInt8]) -> UInt16 {
    bytes.withUnsafeBytes { compute($0) }
  }

  /// The partial sum of the IPv4 pseudo-header that TCP and UDP checksums cover:
  /// source, destination, zero, protocol, and the transport length (header + data).
  public static func pseudoHeaderSum(
    source: IPv4Address, destination: IPv4Address, ipProtocol: IPProtocol, length: Int
  ) -> UInt32 {
    var sum: UInt32 = 0
    sum &+= source.rawValue >> 16
    sum &+= source.rawValue & 0xFFFF
    sum &+= destination.rawValue >> 16
    sum &+= destination.rawValue & 0xFFFF
    sum &+= UInt32(ipProtocol.rawValue)
    sum &+= UInt32(truncatingIfNeeded: length) & 0xFFFF
    return UInt32(fold32(sum))
  }

  /// RFC 1624 eqn. 3: the checksum after one 16-bit covered word changes from `old` to
  /// `new`.
  @inline(__always)
  public static func update(_ checksum: UInt16, old: UInt16, new: UInt16) -> UInt16 {
    let sum = UInt32(~checksum) &+ UInt32(~old) &+ UInt32(new)
    return ~fold32(sum)
  }

  /// RFC 1624 eqn. 3 for a 32-bit covered field (an IPv4 address, a sequence number):
  /// both halves in one step. (Named apart from the 16-bit form so that integer literals
  /// are never ambiguous.)
  @inline(__always)
  public static func update(_ checksum: UInt16, old32 old: UInt32, new32 new: UInt32) -> UInt16 {
    var sum = UInt32(~checksum)
    sum &+= UInt32(~UInt16(truncatingIfNeeded: old >> 16))
    sum &+= UInt32(~UInt16(truncatingIfNeeded: old))
    sum &+= UInt32(UInt16(truncatingIfNeeded: new >> 16))
    sum &+= UInt32(UInt16(truncatingIfNeeded: new))
    return ~fold32(sum)
  }

  /// Folds a 32-bit ones' complement partial sum into 16 bits with end-around carry.
  @inline(__always)
  static func fold32(_ value: UInt32) -> UInt16 {
    var sum = value
    sum = (sum & 0xFFFF) &+ (sum >> 16)
    sum = (sum & 0xFFFF) &+ (sum >> 16)
    return UInt16(truncatingIfNeeded: sum)
  }

  @inline(__always)
  static func fold64(_ value: UInt64) -> UInt16 {
    var sum = value
    sum = (sum & 0xFFFF_FFFF) &+ (sum >> 32)
    sum = (sum & 0xFFFF_FFFF) &+ (sum >> 32)
    return fold32(UInt32(truncatingIfNeeded: sum))
  }
}
