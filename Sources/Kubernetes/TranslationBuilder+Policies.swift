import Topology

/// Network policies.
///
/// Each policy gets one chain per direction it isolates,
/// `k8s-np-<ns>/<policy>-ingress|egress`, whose rules ACCEPT what the
/// policy allows and otherwise fall through (return to the caller). Each
/// pod's chain for a direction in which it is isolated accepts replies
/// (`returnFlow`), jumps to the chain of every policy that selects it — so
/// what is allowed is the union — and DROPs the rest. A pod no policy
/// isolates has no such rules: everything is allowed. Ingress is checked in
/// the pod port's outbound chain (the packet is about to reach the pod);
/// egress in the namespace bridge's inbound chain, after the pod port's
/// inbound chain has done any service DNAT, so egress rules see the endpoint
/// as Kubernetes defines.
///
/// A policy rule allows a packet if it matches one of the peers and one of
/// the ports: one ACCEPT per (peer, port). A `pods` peer is an address group
/// of the pods it selects (pod and namespace selectors ANDed); an `ipBlock`
/// peer is a chain of its own whose `except` prefixes RETURN before the block
/// accepts, so an exception narrows only that peer. A named port resolves on
/// the destination pod, so it becomes one rule per destination pod that has
/// it, limited to that pod's address.
extension TranslationBuilder {
  typealias RuleSpec = (String, Condition, RuleAction)

  mutating func buildPolicies() {
    let policies = manifests.policies.sorted { ($0.namespace, $0.name) < ($1.namespace, $1.name) }
    let live = pods.filter { snapshot.ports[$0.portID] != nil }
    for policy in policies {
      let selected = live.filter { selects(policy, $0) }
      for direction in K8sNetworkPolicy.Direction.allCases
      where policy.policyTypes.contains(direction) {
        buildPolicyChain(policy, direction, selected: selected, all: live)
      }
    }
    var dispatch: [String: [RuleSpec]] = [:]
    for pod in live {
      let namespace = pod.pod.namespace
      let name = pod.pod.name
      let selecting = policies.filter { selects($0, pod) }
      var out: [RuleSpec] = [
        ("track", Condition(matchForwardFlow: true), .continue),
        ("non-ip", Condition(dlType: 0x0800, invDlType: true), .accept),
        ("not-for-pod", Condition(dlDst: pod.mac, invDlDst: true), .drop),
        ("reverse-dnat", .any, .reverseDNAT),
      ]
      out += isolation(selecting, .ingress)
      let outID = addChain(K8sNames.podChain(namespace, name, "out"), rules: out)
      snapshot.ports[pod.portID]?.outboundFilterId = outID
      let egress = isolation(selecting, .egress)
      if !egress.isEmpty {
        let chain = addChain(
          K8sNames.podChain(namespace, name, "egress"),
          rules: [("non-ip", Condition(dlType: 0x0800, invDlType: true), .accept)] + egress)
        dispatch[namespace, default: []].append(
          ("from-\(name)", Condition(inPortIds: [pod.portID]), .jump(chainId: chain)))
      }
    }
    for namespace in namespaces.keys {
      addChain(K8sNames.namespaceEgressChain(namespace), rules: dispatch[namespace] ?? [])
    }
  }

  func selects(_ policy: K8sNetworkPolicy, _ pod: TranslatedPod) -> Bool {
    policy.namespace == pod.pod.namespace && policy.podSelector.matches(pod.pod.labels)
  }

  /// The rules of a pod isolated in `direction` by `selecting` (none if not).
  func isolation(_ selecting: [K8sNetworkPolicy], _ direction: K8sNetworkPolicy.Direction)
    -> [RuleSpec]
  {
    let isolating = selecting.filter { $0.policyTypes.contains(direction) }
    guard !isolating.isEmpty else { return [] }
    var rules: [RuleSpec] = [("replies", Condition(matchReturnFlow: true), .accept)]
    for policy in isolating {
      let chain = K8sNames.id(
        .chain, K8sNames.policyChain(policy.namespace, policy.name, direction))
      rules.append(("policy-\(policy.name)", .any, .jump(chainId: chain)))
    }
    rules.append(("isolated", .any, .drop))
    return rules
  }

  /// The pods a `pods` peer selects: `namespaceSelector` nil means the
  /// policy's namespace, `podSelector` nil every pod; both are ANDed.
  func peerPods(
    podSelector: LabelSelector?, namespaceSelector: LabelSelector?, policyNamespace: String,
    all: [TranslatedPod]
  ) -> [TranslatedPod] {
    all.filter { pod in
      let namespaceMatches: Bool
      if let namespaceSelector {
        namespaceMatches =
          namespaces[pod.pod.namespace].map {
            namespaceSelector.matches($0.labels)
          } ?? false
      } else {
        namespaceMatches = pod.pod.namespace == policyNamespace
      }
      return namespaceMatches && (podSelector?.matches(pod.pod.labels) ?? true)
    }
  }

  mutating func buildPolicyChain(
    _ policy: K8sNetworkPolicy, _ direction: K8sNetworkPolicy.Direction,
    selected: [TranslatedPod], all: [TranslatedPod]
  ) {
    let chainName = K8sNames.policyChain(policy.namespace, policy.name, direction)
    let ingress = direction == .ingress
    var rules: [RuleSpec] = []
    for (i, rule) in policy.rules(direction).enumerated() {
      if rule.peers.isEmpty {
        for (key, condition) in portParts(rule.ports, destinations: ingress ? selected : all) {
          rules.append(("r\(i)-all-\(key)", condition, .accept))
        }
      }
      for (j, peer) in rule.peers.enumerated() {
        let peerName = "\(chainName)-\(i)-\(j)"
        switch peer {
        case .pods(let podSelector, let namespaceSelector):
          let members = peerPods(
            podSelector: podSelector, namespaceSelector: namespaceSelector,
            policyNamespace: policy.namespace, all: all)
          let groupID = K8sNames.id(.ipAddrGroup, peerName)
          snapshot.insert(
            IPAddrGroup(id: groupID, name: peerName, addresses: members.map(\.ip).sorted()))
          for (key, var condition) in portParts(
            rule.ports, destinations: ingress ? selected : members)
          {
            if ingress {
              condition.ipAddrGroupIdSrc = groupID
            } else {
              condition.ipAddrGroupIdDst = groupID
            }
            rules.append(("r\(i)-p\(j)-\(key)", condition, .accept))
          }
        case .ipBlock(let cidr, let except):
          var block: [RuleSpec] = except.enumerated().map { index, prefix in
            let condition =
              ingress
              ? Condition(dlType: 0x0800, nwSrc: prefix) : Condition(dlType: 0x0800, nwDst: prefix)
            return ("except-\(index)", condition, .return)
          }
          let inBlock = all.filter { pod in
            cidr.contains(pod.ip) && !except.contains { $0.contains(pod.ip) }
          }
          for (key, var condition) in portParts(
            rule.ports, destinations: ingress ? selected : inBlock)
          {
            if ingress {
              condition.nwSrc = cidr
            } else if condition.nwDst == nil {
              condition.nwDst = cidr
            }
            block.append(("allow-\(key)", condition, .accept))
          }
          let blockID = addChain(peerName, rules: block)
          rules.append(("r\(i)-p\(j)", Condition(dlType: 0x0800), .jump(chainId: blockID)))
        }
      }
    }
    addChain(chainName, rules: rules)
  }

  /// The port conditions of a rule: all IPv4 traffic when it lists no ports;
  /// else one per listed port, and a named port once per destination pod
  /// that has it (with that pod's address, since the number is that pod's).
  func portParts(_ ports: [K8sNetworkPolicy.PolicyPort], destinations: [TranslatedPod])
    -> [(String, Condition)]
  {
    guard !ports.isEmpty else { return [("any", Condition(dlType: 0x0800))] }
    var parts: [(String, Condition)] = []
    for (k, port) in ports.enumerated() {
      let proto = port.proto.number
      switch port.port {
      case nil:
        parts.append(("q\(k)", Condition(dlType: 0x0800, nwProto: proto)))
      case .number(let start)?:
        let range = start...max(start, port.endPort ?? start)
        parts.append(("q\(k)", Condition(dlType: 0x0800, nwProto: proto, tpDst: range)))
      case .name(let name)?:
        for pod in destinations {
          guard let number = pod.pod.port(named: name, proto: port.proto) else { continue }
          parts.append(
            (
              "q\(k)-\(pod.pod.namespace)/\(pod.pod.name)",
              Condition(
                dlType: 0x0800, nwDst: .host(pod.ip), nwProto: proto, tpDst: number...number)
            ))
        }
      }
    }
    return parts
  }
}
