import Topology

/// Turns Kubernetes manifests into a Midge topology, as Kuryr turns them
/// into Neutron objects (docs/kubernetes.md has the whole mapping):
///
/// - the cluster: one router, `k8s-router`;
/// - a namespace: a bridge `k8s-<ns>` with a DHCP subnet listing its pods
///   (the bridge's static IP→MAC table) and a router port on its subnet;
/// - a pod: a bridge port `<ns>/<pod>` bound to `Host/<node>` and a derived
///   interface, with anti-spoofing in its inbound chain;
/// - a service: DNAT from cluster IP (and external IPs) and port to the
///   endpoints, reversed on replies;
/// - network policies: per-pod chains that jump to per-policy chains.
///
/// The translation is a pure function of the manifests (and the tunnel keys
/// ports already have): every id derives from a name, so translating the
/// same manifests twice gives equal snapshots, and a change in the manifests
/// changes only the objects that depend on what changed — the NSDB apply
/// then writes only those.
public struct K8sTranslator: Sendable {
  /// Tunnel keys ports already hold, kept so a re-apply changes none.
  public var existingTunnelKeys: [ID: UInt32]

  public init(existingTunnelKeys: [ID: UInt32] = [:]) {
    self.existingTunnelKeys = existingTunnelKeys
  }

  public func translate(_ manifests: K8sManifests) throws(K8sErrors) -> K8sTranslation {
    var builder = TranslationBuilder(manifests: manifests)
    builder.build()
    guard builder.errors.isEmpty else { throw K8sErrors(builder.errors) }
    builder.assignTunnelKeys(existing: existingTunnelKeys)
    return K8sTranslation(
      snapshot: builder.snapshot,
      macEntries: builder.macEntries.sorted { ($0.bridge, $0.mac) < ($1.bridge, $1.mac) },
      arpEntries: builder.arpEntries.sorted { $0.ip < $1.ip },
      warnings: manifests.warnings + builder.warnings)
  }

  /// Parses and translates in one step.
  public func translate(yaml: String) throws(K8sErrors) -> K8sTranslation {
    try translate(try ManifestParser.parse(yaml))
  }
}
