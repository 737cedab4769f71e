import Addresses
import Topology

/// A Kubernetes Pod as far as networking goes: where it runs, its address
/// and the named ports of its containers.
public struct K8sPod: Hashable, Sendable {
  /// One `containers[].ports[]` entry.
  public struct ContainerPort: Hashable, Sendable {
    public var name: String?
    public var port: UInt16
    public var proto: K8sProtocol

    public init(name: String? = nil, port: UInt16, proto: K8sProtocol = .tcp) {
      self.name = name
      self.port = port
      self.proto = proto
    }
  }

  public var namespace: String
  public var name: String
  public var labels: [String: String]
  /// `spec.nodeName`: the host the pod's port is bound on.
  public var nodeName: String?
  /// `status.podIP`; a pod without one (not scheduled yet) is not translated.
  public var ip: IPv4Address?
  public var ports: [ContainerPort]
  /// `spec.hostNetwork`: such pods use the node's network and get no port.
  public var hostNetwork: Bool

  public init(
    namespace: String, name: String, labels: [String: String] = [:], nodeName: String? = nil,
    ip: IPv4Address? = nil, ports: [ContainerPort] = [], hostNetwork: Bool = false
  ) {
    self.namespace = namespace
    self.name = name
    self.labels = labels
    self.nodeName = nodeName
    self.ip = ip
    self.ports = ports
    self.hostNetwork = hostNetwork
  }

  /// The number of the container port called `name` for `proto`, as
  /// Kubernetes resolves named ports (per pod, so it may differ between pods).
  public func port(named name: String, proto: K8sProtocol) -> UInt16? {
    ports.first { $0.name == name && $0.proto == proto }?.port
  }
}
