/// The 16-bit EtherType that names an Ethernet frame's payload.
///
/// A struct rather than an enum: any value can appear on the wire and a flow key must
/// carry it faithfully, while the well-known values get names for code and traces.
public struct EtherType: RawRepresentable, Hashable, Sendable, Comparable {
  public var rawValue: UInt16

  public init(rawValue: UInt16) {
    self.rawValue = rawValue
  }

  /// 0x0800.
  public static let ipv4 = EtherType(rawValue: 0x0800)
  /// 0x0806.
  public static let arp = EtherType(rawValue: 0x0806)
  /// 0x86DD (recognised, not parsed).
  public static let ipv6 = EtherType(rawValue: 0x86DD)
  /// 0x8100, the 802.1Q customer VLAN tag.
  public static let vlan = EtherType(rawValue: 0x8100)
  /// 0x88A8, the 802.1ad service (outer, "QinQ") tag.
  public static let qinq = EtherType(rawValue: 0x88A8)
  /// 0x9100, the pre-standard QinQ outer tag some switches still send.
  public static let legacyQinQ = EtherType(rawValue: 0x9100)

  /// True for the TPIDs that introduce a VLAN tag.
  public var isVLANTag: Bool { self == .vlan || self == .qinq || self == .legacyQinQ }

  public static func < (lhs: EtherType, rhs: EtherType) -> Bool { lhs.rawValue < rhs.rawValue }
}

extension EtherType: CustomStringConvertible {
  /// The well-known name ("ipv4") or the hex value ("0x88cc").
  public var description: String {
    switch self {
    case .ipv4: return "ipv4"
    case .arp: return "arp"
    case .ipv6: return "ipv6"
    case .vlan: return "vlan"
    case .qinq: return "qinq"
    default: return "0x" + hex(rawValue, digits: 4)
    }
  }
}

/// Lower-case hexadecimal with leading zeros, for descriptions.
func hex(_ value: some BinaryInteger, digits: Int) -> String {
  let text = String(value, radix: 16)
  return String(repeating: "0", count: max(0, digits - text.count)) + text
}
