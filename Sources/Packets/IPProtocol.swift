/// The IPv4 protocol number that names a datagram's payload.
///
/// A struct for the same reason as `EtherType`: every value must survive into a flow key.
public struct IPProtocol: RawRepresentable, Hashable, Sendable, Comparable {
  public var rawValue: UInt8

  public init(rawValue: UInt8) {
    self.rawValue = rawValue
  }

  /// 1.
  public static let icmp = IPProtocol(rawValue: 1)
  /// 6.
  public static let tcp = IPProtocol(rawValue: 6)
  /// 17.
  public static let udp = IPProtocol(rawValue: 17)

  public static func < (lhs: IPProtocol, rhs: IPProtocol) -> Bool { lhs.rawValue < rhs.rawValue }
}

extension IPProtocol: CustomStringConvertible {
  /// "icmp", "tcp", "udp", or the number.
  public var description: String {
    switch self {
    case .icmp: return "icmp"
    case .tcp: return "tcp"
    case .udp: return "udp"
    default: return String(rawValue)
    }
  }
}
