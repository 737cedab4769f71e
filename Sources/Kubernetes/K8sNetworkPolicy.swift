import Addresses
import Topology

/// A Kubernetes NetworkPolicy.
///
/// The semantics the translator implements (see docs/kubernetes.md): a pod is
/// isolated for a direction only if some policy selecting it has that policy
/// type; what is allowed is the union of all such policies' rules; within a
/// rule a connection must match one of the peers and one of the ports; an
/// empty peer list or port list matches everything.
public struct K8sNetworkPolicy: Hashable, Sendable {
  public enum Direction: String, Hashable, Sendable, CaseIterable {
    case ingress = "Ingress"
    case egress = "Egress"
  }

  /// One `from`/`to` entry.
  public enum Peer: Hashable, Sendable {
    /// Pods: `podSelector` (nil: all pods) in the namespaces `namespaceSelector`
    /// selects (nil: only the policy's own namespace). Both given are ANDed.
    case pods(podSelector: LabelSelector?, namespaceSelector: LabelSelector?)
    /// Addresses in `cidr` but in none of `except`.
    case ipBlock(cidr: IPv4Prefix, except: [IPv4Prefix])
  }

  /// One `ports` entry: a protocol and a port, a port range or all ports.
  public struct PolicyPort: Hashable, Sendable {
    public var proto: K8sProtocol
    /// nil: every port of the protocol.
    public var port: K8sPortRef?
    /// With a numeric `port`: the range `port...endPort`.
    public var endPort: UInt16?

    public init(proto: K8sProtocol = .tcp, port: K8sPortRef? = nil, endPort: UInt16? = nil) {
      self.proto = proto
      self.port = port
      self.endPort = endPort
    }
  }

  /// One ingress or egress rule.
  public struct Rule: Hashable, Sendable {
    /// Empty: every peer.
    public var peers: [Peer]
    /// Empty: every port.
    public var ports: [PolicyPort]

    public init(peers: [Peer] = [], ports: [PolicyPort] = []) {
      self.peers = peers
      self.ports = ports
    }
  }

  public var namespace: String
  public var name: String
  /// The pods of `namespace` the policy applies to (`{}`: all of them).
  public var podSelector: LabelSelector
  /// The directions the policy isolates.
  public var policyTypes: Set<Direction>
  public var ingress: [Rule]
  public var egress: [Rule]

  /// `policyTypes` nil applies Kubernetes' default: Ingress always, Egress
  /// when there are egress rules.
  public init(
    namespace: String, name: String, podSelector: LabelSelector = .everything,
    policyTypes: Set<Direction>? = nil, ingress: [Rule] = [], egress: [Rule] = []
  ) {
    self.namespace = namespace
    self.name = name
    self.podSelector = podSelector
    self.policyTypes = policyTypes ?? (egress.isEmpty ? [.ingress] : [.ingress, .egress])
    self.ingress = ingress
    self.egress = egress
  }

  public func rules(_ direction: Direction) -> [Rule] {
    direction == .ingress ? ingress : egress
  }
}
