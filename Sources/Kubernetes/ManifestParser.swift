import Addresses
import Topology
import Yams

/// Reads Kubernetes manifests the way `kubectl apply -f` does: one or more
/// YAML documents, each an object or a `List` (also `PodList` and the like)
/// of objects; `metadata.namespace` defaults to `default`.
///
/// Namespace, Pod, Service and NetworkPolicy are read; any other kind is
/// skipped with a warning (a Deployment or ConfigMap in the same file is no
/// error). Fields Midge has no use for are ignored. Parsing is total: every
/// problem is collected, and any problem means no manifests.
public enum ManifestParser {
  public static func parse(_ text: String) throws(K8sErrors) -> K8sManifests {
    let reader = ManifestReader()
    var manifests = K8sManifests()
    // The sequence stops at a syntax error and keeps it aside: documents
    // read up to there must not pass for the whole file.
    var documents: [Node] = []
    do {
      var sequence = try Yams.compose_all(yaml: text)
      while let node = sequence.next() { documents.append(node) }
      if let error = sequence.error { throw error }
    } catch {
      throw K8sErrors([
        K8sError(.invalidYAML, "not valid YAML", document: documents.count, cause: "\(error)")
      ])
    }
    for (index, node) in documents.enumerated() {
      reader.document = index
      if node.isNull { continue }
      read(ManifestField(node: node, path: ""), reader, &manifests)
    }
    checkDuplicates(manifests, reader)
    guard reader.errors.isEmpty else { throw K8sErrors(reader.errors) }
    return manifests
  }

  static func read(_ field: ManifestField, _ reader: ManifestReader, _ out: inout K8sManifests) {
    guard reader.isMapping(field), let kind = reader.required(field, "kind") else { return }
    if kind == "List" || (kind.hasSuffix("List") && field.child("items") != nil) {
      for item in reader.list(field.child("items")) { read(item, reader, &out) }
      return
    }
    let name = field.child("metadata").flatMap { $0.child("name") }.flatMap(reader.string)
    let at = field.path.isEmpty ? "" : " at \(field.path)"
    switch kind {
    case "Namespace":
      if let namespace = readNamespace(field, reader) { out.namespaces.append(namespace) }
    case "Pod":
      guard let pod = readPod(field, reader) else { return }
      if pod.hostNetwork {
        out.warnings.append(
          "document \(reader.document)\(at): Pod \(pod.namespace)/\(pod.name) "
            + "uses the host network: no port")
      } else if let phase = field.child("status")?.child("phase").flatMap(reader.string),
        phase == "Succeeded" || phase == "Failed"
      {
        out.warnings.append(
          "document \(reader.document)\(at): Pod \(pod.namespace)/\(pod.name) "
            + "has finished (\(phase)): skipped")
      } else if pod.ip == nil {
        out.warnings.append(
          "document \(reader.document)\(at): Pod \(pod.namespace)/\(pod.name) "
            + "has no status.podIP yet: skipped")
      } else {
        out.pods.append(pod)
      }
    case "Service":
      if let service = readService(field, reader, &out.warnings) { out.services.append(service) }
    case "NetworkPolicy":
      if let policy = readPolicy(field, reader, &out.warnings) { out.policies.append(policy) }
    default:
      out.warnings.append(
        "document \(reader.document)\(at): kind \(kind) \(name ?? "(unnamed)") is not translated: skipped"
      )
    }
  }

  /// `metadata`: name (required), namespace (default `default`), labels.
  static func metadata(_ field: ManifestField, _ reader: ManifestReader)
    -> (name: String, namespace: String, labels: [String: String], annotations: [String: String])?
  {
    guard let meta = field.child("metadata") else {
      reader.fail(field, "metadata", "required field is missing", code: .missingField)
      return nil
    }
    guard let name = reader.required(meta, "name") else { return nil }
    let namespace = meta.child("namespace").flatMap(reader.string) ?? "default"
    // Topology names are built from these (`k8s-pod-<namespace>/<name>-ingress`): the
    // topology file's name rules apply, with room for the longest prefix and suffix.
    for (key, value) in [("name", name), ("namespace", namespace)] {
      if let problem = NameRules.problem(name: value), !value.isEmpty {
        let field = meta.child(key)
        reader.fail(
          field, "metadata.\(key)", "'\(value.debugDescription.dropFirst().dropLast())' \(problem)",
          code: .invalidValue)
        return nil
      }
    }
    if namespace.utf8.count + name.utf8.count > NameRules.maxNameBytes - 32 {
      reader.fail(
        meta.child("name"), "metadata.name",
        "namespace and name are \(namespace.utf8.count + name.utf8.count) bytes together; the topology names made from them allow \(NameRules.maxNameBytes - 32)",
        code: .invalidValue)
      return nil
    }
    return (
      name, namespace.isEmpty ? "default" : namespace, reader.stringMap(meta.child("labels")),
      reader.stringMap(meta.child("annotations"))
    )
  }

  static func readNamespace(_ field: ManifestField, _ reader: ManifestReader) -> K8sNamespace? {
    guard let meta = metadata(field, reader) else { return nil }
    let namespace = K8sNamespace(
      name: meta.name, labels: meta.labels, annotations: meta.annotations)
    if let text = namespace.annotations[K8sNamespace.subnetAnnotation],
      (try? IPv4Prefix(parsing: text)) == nil
    {
      reader.fail(
        field, "metadata.annotations.\(K8sNamespace.subnetAnnotation)",
        "'\(text)' is not an IPv4 CIDR like 10.1.0.0/24", code: .invalidValue)
    }
    return namespace
  }

  static func readPod(_ field: ManifestField, _ reader: ManifestReader) -> K8sPod? {
    guard let meta = metadata(field, reader) else { return nil }
    var pod = K8sPod(namespace: meta.namespace, name: meta.name, labels: meta.labels)
    if let spec = field.child("spec") {
      pod.nodeName = spec.child("nodeName").flatMap(reader.string)
      pod.hostNetwork = reader.bool(spec.child("hostNetwork")) ?? false
      for container in reader.list(spec.child("containers")) {
        for entry in reader.list(container.child("ports")) {
          guard let number = reader.port(entry.child("containerPort")) else {
            if entry.child("containerPort") == nil {
              reader.fail(
                entry, "\(entry.path).containerPort", "required field is missing",
                code: .missingField)
            }
            continue
          }
          pod.ports.append(
            .init(
              name: entry.child("name").flatMap(reader.string), port: number,
              proto: reader.proto(entry.child("protocol"))))
        }
      }
    }
    if let status = field.child("status") {
      if let ip = status.child("podIP") {
        pod.ip = reader.address(ip)
      } else {
        // podIPs lists IPv4 and IPv6 addresses; Midge uses the IPv4 one.
        for entry in reader.list(status.child("podIPs")) {
          guard let text = entry.child("ip").flatMap(reader.string) else { continue }
          if let ip = try? IPv4Address(parsing: text) {
            pod.ip = ip
            break
          }
        }
      }
    }
    if pod.nodeName == nil && pod.ip != nil && !pod.hostNetwork {
      reader.fail(field, "spec.nodeName", "a pod with an IP needs a node", code: .missingField)
    }
    return pod
  }

  static func readService(
    _ field: ManifestField, _ reader: ManifestReader, _ warnings: inout [String]
  ) -> K8sService? {
    guard let meta = metadata(field, reader) else { return nil }
    var service = K8sService(namespace: meta.namespace, name: meta.name)
    guard let spec = field.child("spec") else { return service }
    if spec.child("type").flatMap(reader.string) == "ExternalName" {
      warnings.append(
        "document \(reader.document): Service \(meta.namespace)/\(meta.name) is ExternalName: skipped"
      )
      return nil
    }
    if let selector = spec.child("selector") { service.selector = reader.stringMap(selector) }
    if let ipField = spec.child("clusterIP"), let text = reader.string(ipField), text != "None",
      !text.isEmpty
    {
      service.clusterIP = reader.address(ipField)
    }
    service.externalIPs = reader.list(spec.child("externalIPs")).compactMap(reader.address)
    for entry in reader.list(spec.child("ports")) {
      guard let port = reader.port(entry.child("port")) else {
        if entry.child("port") == nil {
          reader.fail(entry, "\(entry.path).port", "required field is missing", code: .missingField)
        }
        continue
      }
      service.ports.append(
        .init(
          name: entry.child("name").flatMap(reader.string), port: port,
          targetPort: reader.portRef(entry.child("targetPort")),
          proto: reader.proto(entry.child("protocol"))))
    }
    return service
  }
}
