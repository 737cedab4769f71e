extension ManifestParser {
  /// Two objects of one kind with the same namespace and name: `kubectl`
  /// would apply the second over the first; here it is almost certainly a
  /// mistake in a generated file, so it is reported.
  static func checkDuplicates(_ manifests: K8sManifests, _ reader: ManifestReader) {
    func check(_ kind: String, _ keys: [String]) {
      var seen = Set<String>()
      for key in keys where !seen.insert(key).inserted {
        reader.errors.append(K8sError(.duplicate, "\(kind) \(key) is declared twice"))
      }
    }
    check("Namespace", manifests.namespaces.map(\.name))
    check("Pod", manifests.pods.map { "\($0.namespace)/\($0.name)" })
    check("Service", manifests.services.map { "\($0.namespace)/\($0.name)" })
    check("NetworkPolicy", manifests.policies.map { "\($0.namespace)/\($0.name)" })
  }
}
