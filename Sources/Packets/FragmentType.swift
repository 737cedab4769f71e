/// Where an IPv4 datagram sits in a fragmented whole, as a flow key sees it.
///
/// Only the first fragment carries the transport header, so "later" fragments cannot be
/// matched on ports; flow tables treat them separately (MidoNet and OVS both key on this).
public enum FragmentType: UInt8, Hashable, Sendable, CustomStringConvertible {
  /// Not fragmented: offset 0 and more-fragments clear.
  case none
  /// The first fragment: offset 0, more-fragments set. Carries the L4 header.
  case first
  /// Any fragment with a non-zero offset. Carries no L4 header.
  case later

  public var description: String {
    switch self {
    case .none: return "no"
    case .first: return "first"
    case .later: return "later"
    }
  }
}
