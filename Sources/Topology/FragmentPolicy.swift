/// Which IP fragments a rule condition accepts.
///
/// Only the first fragment of a fragmented datagram carries the L4 header, so
/// a rule that looks at ports cannot judge later fragments; the policy lets a
/// rule say which fragments it is about.
public enum FragmentPolicy: String, Hashable, Sendable, Codable, CaseIterable {
  /// Every packet, fragmented or not.
  case any
  /// Packets that carry an L4 header: unfragmented ones and first fragments.
  case header
  /// Only non-first fragments (the ones without an L4 header).
  case nonHeader = "nonheader"
  /// Only packets that are not fragments at all.
  case unfragmented

  /// Whether a packet of the given fragment kind passes this policy.
  public func accepts(_ kind: FragmentKind) -> Bool {
    switch self {
    case .any: return true
    case .header: return kind != .later
    case .nonHeader: return kind == .later
    case .unfragmented: return kind == .unfragmented
    }
  }
}

/// Where a packet sits in IP fragmentation: the packet-side counterpart of
/// `FragmentPolicy`. Non-IP packets count as `.unfragmented`.
public enum FragmentKind: String, Hashable, Sendable, Codable, CaseIterable {
  /// Not a fragment (MF clear and offset zero), or not IP at all.
  case unfragmented
  /// The first fragment (offset zero, MF set): carries the L4 header.
  case first
  /// Any later fragment (offset non-zero): no L4 header.
  case later
}
