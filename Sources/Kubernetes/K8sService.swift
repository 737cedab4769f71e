import Addresses
import Topology

/// A Kubernetes Service of type ClusterIP (and its external IPs).
public struct K8sService: Hashable, Sendable {
  /// One `spec.ports[]` entry.
  public struct ServicePort: Hashable, Sendable {
    public var name: String?
    public var port: UInt16
    /// Defaults to `port`, as in Kubernetes.
    public var targetPort: K8sPortRef
    public var proto: K8sProtocol

    public init(
      name: String? = nil, port: UInt16, targetPort: K8sPortRef? = nil, proto: K8sProtocol = .tcp
    ) {
      self.name = name
      self.port = port
      self.targetPort = targetPort ?? .number(port)
      self.proto = proto
    }
  }

  public var namespace: String
  public var name: String
  /// Pods of the namespace with these labels are the endpoints; nil (no
  /// selector) means the endpoints are managed elsewhere: none here.
  public var selector: [String: String]?
  public var ports: [ServicePort]
  /// `spec.clusterIP`; nil for a headless service (`None`) or when unset.
  public var clusterIP: IPv4Address?
  public var externalIPs: [IPv4Address]

  public init(
    namespace: String, name: String, selector: [String: String]? = nil, ports: [ServicePort] = [],
    clusterIP: IPv4Address? = nil, externalIPs: [IPv4Address] = []
  ) {
    self.namespace = namespace
    self.name = name
    self.selector = selector
    self.ports = ports
    self.clusterIP = clusterIP
    self.externalIPs = externalIPs
  }
}
