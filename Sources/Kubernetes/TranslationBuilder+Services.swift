import Topology

/// Services: `k8s-services` (jumped to from every pod's inbound chain) sends
/// packets for a cluster or external IP to the service's chain, which DNATs
/// each service port to the endpoints' target ports. The NAT binding is made
/// on the client's bridge, so the reverse DNAT sits in every pod's outbound
/// chain, where the reply leaves that same bridge: this also covers an
/// endpoint in the client's own namespace, whose reply never crosses the
/// router. From outside (a port someone adds to `k8s-router`), external IPs
/// are DNATed by the router's pre-routing chain and reversed post-routing.
extension TranslationBuilder {
  mutating func buildServices() {
    var dispatch: [(String, Condition, RuleAction)] = []
    var external: [(String, Condition, RuleAction)] = []
    let services = manifests.services.sorted { ($0.namespace, $0.name) < ($1.namespace, $1.name) }
    for service in services {
      let key = "\(service.namespace)/\(service.name)"
      guard service.clusterIP != nil || !service.externalIPs.isEmpty else {
        warnings.append("service \(key) has no cluster IP (headless): no DNAT")
        continue
      }
      let chain = addChain(
        K8sNames.serviceChain(service.namespace, service.name), rules: serviceRules(service))
      for ip in [service.clusterIP].compactMap({ $0 }) + service.externalIPs {
        dispatch.append(
          ("\(key)/\(ip)", Condition(dlType: 0x0800, nwDst: .host(ip)), .jump(chainId: chain)))
      }
      for ip in service.externalIPs {
        external.append(
          ("\(key)/\(ip)", Condition(dlType: 0x0800, nwDst: .host(ip)), .jump(chainId: chain)))
      }
    }
    addChain(K8sNames.servicesChain, rules: dispatch)
    addChain(K8sNames.routerPreChain, rules: external)
  }

  /// One DNAT per service port to every endpoint that has the target port;
  /// a port without endpoints rejects, as kube-proxy does.
  mutating func serviceRules(_ service: K8sService) -> [(String, Condition, RuleAction)] {
    let selector = service.selector ?? [:]
    if selector.isEmpty {
      warnings.append(
        "service \(service.namespace)/\(service.name) has no selector: no endpoints here")
    }
    let endpoints = pods.filter {
      !selector.isEmpty && $0.pod.namespace == service.namespace
        && LabelSelector(matchLabels: selector).matches($0.pod.labels)
        && snapshot.ports[$0.portID] != nil
    }
    var rules: [(String, Condition, RuleAction)] = []
    for (index, port) in service.ports.enumerated() {
      let condition = Condition(
        dlType: 0x0800, nwProto: port.proto.number, tpDst: port.port...port.port)
      var targets: [NatTarget] = []
      for endpoint in endpoints {
        let number: UInt16?
        switch port.targetPort {
        case .number(let value): number = value
        case .name(let name): number = endpoint.pod.port(named: name, proto: port.proto)
        }
        guard let number else { continue }
        targets.append(
          NatTarget(
            addressFrom: endpoint.ip, addressTo: endpoint.ip, portFrom: number, portTo: number))
      }
      let key = "port-\(index)-\(port.proto.rawValue.lowercased())-\(port.port)"
      rules.append((key, condition, targets.isEmpty ? .reject : .dnat(targets: targets)))
    }
    return rules
  }
}
