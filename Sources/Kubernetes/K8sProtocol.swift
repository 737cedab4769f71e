/// The L4 protocols Kubernetes ports and policies name.
public enum K8sProtocol: String, Hashable, Sendable, CaseIterable {
  case tcp = "TCP"
  case udp = "UDP"
  case sctp = "SCTP"

  /// The IP protocol number.
  public var number: UInt8 {
    switch self {
    case .tcp: return 6
    case .udp: return 17
    case .sctp: return 132
    }
  }
}

/// A port given by number or by the name of a container port
/// (`targetPort`, a policy's `port`).
public enum K8sPortRef: Hashable, Sendable {
  case number(UInt16)
  case name(String)
}
