import Addresses
import Topology

/// How Kubernetes objects are named in the topology, and the ids, MACs and
/// interface names derived from those names.
///
/// Ids follow the topology file's recipe (`ID(name: "<Type>/<name>")`), so
/// `midgectl k8s translate` output re-applied with `midgectl apply` names the
/// same objects, and re-translating the same manifests yields the same ids.
public enum K8sNames {
  public static let router = "k8s-router"

  public static func id(_ type: ModelType, _ name: String) -> ID {
    ID(name: "\(type.rawValue)/\(name)")
  }

  public static func bridge(_ namespace: String) -> String { "k8s-\(namespace)" }
  public static func routerPort(_ namespace: String) -> String { "\(router)-\(namespace)" }
  /// The bridge side of the namespace's router port (the topology file's `-link`).
  public static func linkPort(_ namespace: String) -> String { "\(router)-\(namespace)-link" }
  /// A pod's bridge port: `<namespace>/<pod>`, the name `midgectl trace --port` takes.
  public static func podPort(_ namespace: String, _ pod: String) -> String {
    "\(namespace)/\(pod)"
  }
  public static func podChain(_ namespace: String, _ pod: String, _ suffix: String) -> String {
    "k8s-pod-\(namespace)/\(pod)-\(suffix)"
  }
  public static func namespaceEgressChain(_ namespace: String) -> String {
    "k8s-ns-\(namespace)-egress"
  }
  public static func policyChain(
    _ namespace: String, _ policy: String, _ direction: K8sNetworkPolicy.Direction
  ) -> String {
    "k8s-np-\(namespace)/\(policy)-\(direction == .ingress ? "ingress" : "egress")"
  }
  public static let servicesChain = "k8s-services"
  public static func serviceChain(_ namespace: String, _ service: String) -> String {
    "k8s-svc-\(namespace)/\(service)"
  }
  public static let routerPreChain = "k8s-router-pre"
  public static let routerPostChain = "k8s-router-post"

  /// A locally administered unicast MAC from the port's id (the topology
  /// file's recipe for router ports): stable, and distinct per pod name.
  public static func mac(_ portID: ID) -> MACAddress {
    MACAddress(rawValue: 0x02_00_0000_0000 | (portID.low & 0xFF_FFFF_FFFF))
  }

  /// The pod's host-side interface: `mdg` and the first 12 hex digits of the
  /// port's id — 15 characters, the Linux limit (IFNAMSIZ - 1), and the same
  /// on every run, so the CNI side can compute it from the pod's name alone.
  public static func interface(_ portID: ID) -> String {
    let hex = portID.description.replacingOccurrences("-", "")
    return "mdg" + hex.prefix(12)
  }

  /// Whether a topology object of this name belongs to the translation
  /// (used to prune only translated objects).
  public static func isTranslated(name: String) -> Bool { name.hasPrefix("k8s-") }
}

extension String {
  /// Removes every occurrence of `target` (no Foundation in this module).
  func replacingOccurrences(_ target: Character, _ replacement: String) -> String {
    var out = ""
    for character in self {
      if character == target { out += replacement } else { out.append(character) }
    }
    return out
  }
}
