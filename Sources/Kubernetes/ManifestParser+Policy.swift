import Addresses
import Topology

extension ManifestParser {
  static func readPolicy(
    _ field: ManifestField, _ reader: ManifestReader, _ warnings: inout [String]
  ) -> K8sNetworkPolicy? {
    guard let meta = metadata(field, reader) else { return nil }
    guard let spec = field.child("spec") else {
      reader.fail(field, "spec", "required field is missing", code: .missingField)
      return nil
    }
    let podSelector = reader.selector(spec.child("podSelector")) ?? .everything
    var types: Set<K8sNetworkPolicy.Direction>?
    if let typesField = spec.child("policyTypes") {
      var set = Set<K8sNetworkPolicy.Direction>()
      for entry in reader.list(typesField) {
        guard let text = reader.string(entry) else { continue }
        guard let direction = K8sNetworkPolicy.Direction(rawValue: text) else {
          reader.invalid(entry, "'\(text)' is not Ingress or Egress")
          continue
        }
        set.insert(direction)
      }
      // The API server defaults an empty list like a missing one.
      types = set.isEmpty ? nil : set
    }
    let label = "document \(reader.document): NetworkPolicy \(meta.namespace)/\(meta.name)"
    let ingress = reader.list(spec.child("ingress")).map {
      readRule($0, peersKey: "from", reader, label, &warnings)
    }
    let egress = reader.list(spec.child("egress")).map {
      readRule($0, peersKey: "to", reader, label, &warnings)
    }
    return K8sNetworkPolicy(
      namespace: meta.namespace, name: meta.name, podSelector: podSelector, policyTypes: types,
      ingress: ingress, egress: egress)
  }

  static func readRule(
    _ field: ManifestField, peersKey: String, _ reader: ManifestReader, _ label: String,
    _ warnings: inout [String]
  ) -> K8sNetworkPolicy.Rule {
    var rule = K8sNetworkPolicy.Rule()
    let peerFields = reader.list(field.child(peersKey))
    for peer in peerFields {
      if let block = peer.child("ipBlock") {
        guard let cidrField = block.child("cidr") else {
          reader.fail(block, "\(block.path).cidr", "required field is missing", code: .missingField)
          continue
        }
        // An IPv6 block can match no IPv4 packet: leaving it out is exact.
        if reader.string(cidrField)?.contains(":") == true {
          warnings.append("\(label): IPv6 ipBlock \(cidrField.path) ignored")
          continue
        }
        guard let cidr = reader.prefix(cidrField) else { continue }
        let except = reader.list(block.child("except")).compactMap { entry -> IPv4Prefix? in
          if reader.string(entry)?.contains(":") == true { return nil }
          return reader.prefix(entry)
        }
        rule.peers.append(.ipBlock(cidr: cidr.canonical, except: except.map(\.canonical)))
        continue
      }
      let pods = peer.child("podSelector").flatMap(reader.selector)
      let namespaces = peer.child("namespaceSelector").flatMap(reader.selector)
      if peer.child("podSelector") == nil && peer.child("namespaceSelector") == nil {
        reader.invalid(peer, "a peer needs podSelector, namespaceSelector or ipBlock")
        continue
      }
      rule.peers.append(.pods(podSelector: pods, namespaceSelector: namespaces))
    }
    // Every peer listed was unreadable or IPv6-only: the rule must allow nothing
    // rather than (with an empty list) everything.
    if !peerFields.isEmpty && rule.peers.isEmpty {
      rule.peers = [.ipBlock(cidr: IPv4Prefix(.any, length: 32), except: [])]
    }
    for entry in reader.list(field.child("ports")) {
      var port = K8sNetworkPolicy.PolicyPort(proto: reader.proto(entry.child("protocol")))
      port.port = reader.portRef(entry.child("port"))
      if let endField = entry.child("endPort") {
        port.endPort = reader.port(endField)
        switch port.port {
        case .number(let start)?:
          if let end = port.endPort, end < start {
            reader.invalid(endField, "endPort \(end) is below port \(start)")
          }
        default:
          reader.invalid(endField, "endPort needs a numeric port")
        }
      }
      rule.ports.append(port)
    }
    return rule
  }
}
