/// The objects read from a set of manifests, in the order they were read,
/// plus the warnings about what was skipped.
public struct K8sManifests: Hashable, Sendable {
  public var namespaces: [K8sNamespace]
  public var pods: [K8sPod]
  public var services: [K8sService]
  public var policies: [K8sNetworkPolicy]
  /// Skipped documents (unknown kinds) and ignored objects, one line each.
  public var warnings: [String]

  public init(
    namespaces: [K8sNamespace] = [], pods: [K8sPod] = [], services: [K8sService] = [],
    policies: [K8sNetworkPolicy] = [], warnings: [String] = []
  ) {
    self.namespaces = namespaces
    self.pods = pods
    self.services = services
    self.policies = policies
    self.warnings = warnings
  }
}
