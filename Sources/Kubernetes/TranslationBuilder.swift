import Addresses
import Topology

/// A pod as the translation sees it: the manifest plus its port's identity.
struct TranslatedPod {
  var pod: K8sPod
  var ip: IPv4Address
  var portID: ID
  var mac: MACAddress
  var bridgeID: ID
}

/// The state of one translation.
struct TranslationBuilder {
  let manifests: K8sManifests
  var snapshot = TopologySnapshot()
  var errors: [K8sError] = []
  var warnings: [String] = []
  var macEntries: [K8sTranslation.MACEntry] = []
  var arpEntries: [K8sTranslation.ARPEntry] = []

  /// Every namespace, declared or implied by a pod, by name.
  var namespaces: [String: K8sNamespace] = [:]
  /// Translated pods sorted by namespace, then name.
  var pods: [TranslatedPod] = []
  let routerID = K8sNames.id(.router, K8sNames.router)

  init(manifests: K8sManifests) {
    self.manifests = manifests
  }

  mutating func build() {
    for namespace in manifests.namespaces { namespaces[namespace.name] = namespace }
    for pod in manifests.pods where namespaces[pod.namespace] == nil {
      namespaces[pod.namespace] = K8sNamespace(name: pod.namespace)
      warnings.append("namespace \(pod.namespace) is not declared: created without labels")
    }
    pods = manifests.pods.sorted { ($0.namespace, $0.name) < ($1.namespace, $1.name) }.compactMap {
      pod in
      guard let ip = pod.ip else { return nil }
      let portID = K8sNames.id(.port, K8sNames.podPort(pod.namespace, pod.name))
      return TranslatedPod(
        pod: pod, ip: ip, portID: portID, mac: K8sNames.mac(portID),
        bridgeID: K8sNames.id(.bridge, K8sNames.bridge(pod.namespace)))
    }
    buildRouter()
    var subnets: [(String, IPv4Prefix)] = []
    for name in namespaces.keys.sorted() {
      if let subnet = buildNamespace(namespaces[name]!) { subnets.append((name, subnet)) }
    }
    for (index, (name, subnet)) in subnets.enumerated() {
      for (other, otherSubnet) in subnets[(index + 1)...]
      where subnet.contains(otherSubnet.address) || otherSubnet.contains(subnet.address) {
        errors.append(
          K8sError(
            .untranslatable,
            "the subnets of namespaces \(name) (\(subnet)) and \(other) (\(otherSubnet)) overlap"))
      }
    }
    for pod in pods { buildPod(pod) }
    checkServiceAddresses(subnets)
    buildServices()
    buildPolicies()
    buildHosts()
  }

  // MARK: Router, namespaces, pods

  mutating func buildRouter() {
    // The pre-routing chain's rules (external IPs) come with the services.
    let pre = K8sNames.id(.chain, K8sNames.routerPreChain)
    let post = addChain(
      K8sNames.routerPostChain, rules: [("reverse-dnat", .any, .reverseDNAT)])
    snapshot.insert(
      Router(id: routerID, name: K8sNames.router, inboundFilterId: pre, outboundFilterId: post))
  }

  /// The namespace's bridge and, when it has a subnet, its DHCP subnet and
  /// router port. Returns the subnet.
  mutating func buildNamespace(_ namespace: K8sNamespace) -> IPv4Prefix? {
    let name = K8sNames.bridge(namespace.name)
    let bridgeID = K8sNames.id(.bridge, name)
    let egress = addChain(K8sNames.namespaceEgressChain(namespace.name), rules: [])
    let members = pods.filter { $0.pod.namespace == namespace.name }
    var bridge = Bridge(
      id: bridgeID, name: name, inboundFilterId: egress, portIds: members.map(\.portID))
    defer { snapshot.insert(bridge) }
    guard let subnet = subnet(of: namespace, members) else { return nil }
    let gateway = IPv4Address(rawValue: subnet.network.rawValue + 1)
    if let clash = members.first(where: { $0.ip == gateway }) {
      errors.append(
        K8sError(
          .untranslatable,
          "pod \(namespace.name)/\(clash.pod.name) has \(gateway), the address of the "
            + "namespace's router port (the first address of \(subnet))"))
    }
    let routerPortName = K8sNames.routerPort(namespace.name)
    let routerPortID = K8sNames.id(.port, routerPortName)
    let linkName = K8sNames.linkPort(namespace.name)
    let linkID = K8sNames.id(.port, linkName)
    let routeID = ID(name: "Route/\(K8sNames.router)/connected/\(routerPortName)")
    snapshot.insert(
      Port(
        id: routerPortID, device: .router(routerID), routeIds: [routeID], peerId: linkID,
        portAddress: gateway,
        portSubnet: subnet, portMAC: K8sNames.mac(routerPortID), name: routerPortName))
    snapshot.insert(
      Port(id: linkID, device: .bridge(bridgeID), peerId: routerPortID, name: linkName))
    bridge.portIds.append(linkID)
    snapshot.routers[routerID]?.portIds.append(routerPortID)
    snapshot.insert(
      Route(
        id: routeID, routerId: routerID, dstPrefix: subnet, nextHop: .port,
        nextHopPortId: routerPortID))
    snapshot.routers[routerID]?.routeIds.append(routeID)
    let dhcpID = K8sNames.id(.dhcp, name)
    snapshot.insert(
      Dhcp(
        id: dhcpID, bridgeId: bridgeID, subnet: subnet, gateway: gateway,
        hosts: members.map { DhcpHost(mac: $0.mac, ip: $0.ip, name: $0.pod.name) }))
    bridge.dhcpIds = [dhcpID]
    return subnet
  }

  /// The annotation's subnet, else the smallest prefix of length 24 or
  /// shorter that holds every pod of the namespace; nil without pods.
  func subnet(of namespace: K8sNamespace, _ members: [TranslatedPod]) -> IPv4Prefix? {
    if let text = namespace.annotations[K8sNamespace.subnetAnnotation],
      let declared = try? IPv4Prefix(parsing: text)
    {
      return declared.canonical
    }
    guard let first = members.first else { return nil }
    var prefix = IPv4Prefix(first.ip, length: 24).canonical
    while !members.allSatisfy({ prefix.contains($0.ip) }) && prefix.length > 8 {
      prefix = IPv4Prefix(prefix.address, length: prefix.length - 1).canonical
    }
    return prefix
  }

  mutating func buildPod(_ pod: TranslatedPod) {
    let namespace = pod.pod.namespace
    guard let subnet = snapshot.dhcps[K8sNames.id(.dhcp, K8sNames.bridge(namespace))]?.subnet,
      subnet.contains(pod.ip)
    else {
      errors.append(
        K8sError(
          .untranslatable,
          "pod \(namespace)/\(pod.pod.name) has \(pod.ip), outside its namespace's subnet"))
      return
    }
    let name = pod.pod.name
    let inbound = addChain(
      K8sNames.podChain(namespace, name, "in"),
      rules: [
        ("track", Condition(matchForwardFlow: true), .continue),
        ("spoof-mac", Condition(dlSrc: pod.mac, invDlSrc: true), .drop),
        ("spoof-ip", Condition(dlType: 0x0800, nwSrc: .host(pod.ip), invNwSrc: true), .drop),
        ("services", .any, .jump(chainId: K8sNames.id(.chain, K8sNames.servicesChain))),
      ])
    snapshot.insert(
      Port(
        id: pod.portID, device: .bridge(pod.bridgeID), inboundFilterId: inbound,
        hostId: pod.pod.nodeName.map { K8sNames.id(.host, $0) },
        interfaceName: K8sNames.interface(pod.portID), name: K8sNames.podPort(namespace, name)))
    macEntries.append(.init(bridge: pod.bridgeID, mac: pod.mac, port: pod.portID))
    arpEntries.append(.init(router: routerID, ip: pod.ip, mac: pod.mac))
  }

  /// A service address inside a namespace subnet would be answered on the
  /// bridge (ARP, flooding) rather than sent to the router.
  mutating func checkServiceAddresses(_ subnets: [(String, IPv4Prefix)]) {
    for service in manifests.services {
      for ip in [service.clusterIP].compactMap({ $0 }) + service.externalIPs {
        for (namespace, subnet) in subnets where subnet.contains(ip) {
          errors.append(
            K8sError(
              .untranslatable,
              "service \(service.namespace)/\(service.name) address \(ip) lies in the subnet "
                + "\(subnet) of namespace \(namespace); service addresses must be outside them"))
        }
      }
    }
  }

  mutating func buildHosts() {
    var byNode: [String: [ID]] = [:]
    for pod in pods {
      guard let node = pod.pod.nodeName, snapshot.ports[pod.portID] != nil else { continue }
      byNode[node, default: []].append(pod.portID)
    }
    for (node, ports) in byNode {
      snapshot.insert(Host(id: K8sNames.id(.host, node), name: node, portIds: ports.sorted()))
    }
  }

  // MARK: Chains

  /// Adds a chain and its rules; each rule's id derives from the chain's name
  /// and the rule's key, not its position, so inserting a rule leaves the
  /// others' ids alone.
  @discardableResult
  mutating func addChain(_ name: String, rules: [(String, Condition, RuleAction)]) -> ID {
    let chainID = K8sNames.id(.chain, name)
    var ruleIDs: [ID] = []
    for (key, condition, action) in rules {
      let ruleID = ID(name: "Rule/\(name)/\(key)")
      if snapshot.rules[ruleID] != nil {
        errors.append(K8sError(.untranslatable, "internal: rule \(key) twice in chain \(name)"))
        continue
      }
      snapshot.insert(Rule(id: ruleID, chainId: chainID, condition: condition, action: action))
      ruleIDs.append(ruleID)
    }
    snapshot.insert(Chain(id: chainID, name: name, ruleIds: ruleIDs))
    return chainID
  }

  // MARK: Tunnel keys

  /// Keys ports already hold stay; new ports get the lowest free keys, in
  /// name order (the topology file's rule).
  mutating func assignTunnelKeys(existing: [ID: UInt32]) {
    var used = Set<UInt32>()
    let ports = snapshot.ports.values.sorted { $0.name < $1.name }
    for port in ports {
      if let key = existing[port.id], key != 0, used.insert(key).inserted {
        snapshot.ports[port.id]?.tunnelKey = key
      }
    }
    for (id, key) in existing where snapshot.ports[id] == nil { used.insert(key) }
    var next: UInt32 = 1
    for port in ports where snapshot.ports[port.id]?.tunnelKey == 0 {
      while used.contains(next) { next += 1 }
      snapshot.ports[port.id]?.tunnelKey = next
      used.insert(next)
    }
  }
}
