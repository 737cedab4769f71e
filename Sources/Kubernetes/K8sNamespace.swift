/// A Kubernetes Namespace: a name, labels (for `namespaceSelector`) and
/// annotations (the subnet override `midge.io/subnet`).
public struct K8sNamespace: Hashable, Sendable {
  public var name: String
  /// The labels as declared plus `kubernetes.io/metadata.name: <name>`, which
  /// the API server adds to every namespace and policies commonly select on.
  public var labels: [String: String]
  public var annotations: [String: String]

  public init(name: String, labels: [String: String] = [:], annotations: [String: String] = [:]) {
    self.name = name
    var labels = labels
    labels[Self.nameLabel] = name
    self.labels = labels
    self.annotations = annotations
  }

  /// The label the API server sets to the namespace's name.
  public static let nameLabel = "kubernetes.io/metadata.name"
  /// The annotation that fixes the namespace's subnet (`10.1.0.0/24`).
  public static let subnetAnnotation = "midge.io/subnet"
}
