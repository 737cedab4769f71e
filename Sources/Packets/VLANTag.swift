/// The 16-bit tag control information of an 802.1Q tag: priority, drop eligibility and
/// the 12-bit VLAN id.
public struct VLANTag: Hashable, Sendable {
  /// The raw TCI: PCP (3 bits), DEI (1 bit), VID (12 bits).
  public var tci: UInt16

  /// Wraps a raw TCI as read from the wire.
  public init(tci: UInt16) {
    self.tci = tci
  }

  /// Creates a tag; out-of-range values are truncated to their field widths, so any
  /// input gives a tag that encodes back to the same bits.
  public init(id: UInt16, priority: UInt8 = 0, dropEligible: Bool = false) {
    self.tci =
      UInt16(priority & 0x7) << 13 | (dropEligible ? 0x1000 : 0) | (id & 0x0FFF)
  }

  /// The VLAN id, 0...4095 (0 means "priority tag only").
  public var id: UInt16 { tci & 0x0FFF }
  /// The 802.1p priority code point, 0...7.
  public var priority: UInt8 { UInt8(truncatingIfNeeded: tci >> 13) }
  /// The drop eligible indicator.
  public var dropEligible: Bool { tci & 0x1000 != 0 }
}
