import Addresses
import Kubernetes
import Testing
import Topology
import TopologyFile

/// The ids of the objects that differ between two snapshots (added, removed
/// or changed), with their types.
func changes(_ a: TopologySnapshot, _ b: TopologySnapshot) -> Set<String> {
  func diff<T: Hashable>(_ type: String, _ x: [ID: T], _ y: [ID: T]) -> Set<String> {
    Set(Set(x.keys).union(y.keys).filter { x[$0] != y[$0] }.map { "\(type) \($0)" })
  }
  return diff("Host", a.hosts, b.hosts).union(diff("Bridge", a.bridges, b.bridges))
    .union(diff("Router", a.routers, b.routers)).union(diff("Port", a.ports, b.ports))
    .union(diff("Route", a.routes, b.routes)).union(diff("Chain", a.chains, b.chains))
    .union(diff("Rule", a.rules, b.rules)).union(
      diff("IPAddrGroup", a.ipAddrGroups, b.ipAddrGroups)
    )
    .union(diff("Dhcp", a.dhcps, b.dhcps)).union(diff("PortGroup", a.portGroups, b.portGroups))
}

@Suite("Translation: the topology a manifest set becomes")
struct TranslationTests {
  @Test("namespaces, pods, router: names, bindings, addresses, DHCP and state entries")
  func structure() throws {
    let translation = try Cluster.translate()
    let topology = translation.snapshot
    #expect(topology.validate().isEmpty, "\(topology.validate())")
    let router = try #require(topology.routers[K8sNames.id(.router, "k8s-router")])
    #expect(router.portIds.count == 3)
    let bridge = try #require(topology.bridges[K8sNames.id(.bridge, "k8s-x")])
    #expect(bridge.portIds.count == 4)
    let dhcp = try #require(topology.dhcps[bridge.dhcpIds.first ?? .zero])
    #expect(dhcp.subnet.description == "10.0.1.0/24")
    #expect(dhcp.gateway == IPv4Address(10, 0, 1, 1))
    let routerPort = try #require(topology.ports[K8sNames.id(.port, "k8s-router-x")])
    #expect(routerPort.portAddress == IPv4Address(10, 0, 1, 1))
    #expect(routerPort.peerId == K8sNames.id(.port, "k8s-router-x-link"))

    let port = try #require(topology.ports[Cluster.portID(.init(namespace: "x", name: "a"))])
    #expect(port.name == "x/a")
    #expect(port.hostId == ID(name: "Host/node-1"))
    #expect(topology.hosts[ID(name: "Host/node-1")]?.portIds.contains(port.id) == true)
    let interface = try #require(port.interfaceName)
    #expect(interface.count <= 15 && interface.hasPrefix("mdg"))
    #expect(Set(topology.ports.values.compactMap(\.interfaceName)).count == 9)
    let mac = K8sNames.mac(port.id)
    #expect(dhcp.hosts.contains(DhcpHost(mac: mac, ip: IPv4Address(10, 0, 1, 10), name: "a")))
    #expect(
      translation.macEntries.contains {
        $0.port == port.id && $0.mac == mac && $0.bridge == bridge.id
      })
    #expect(translation.arpEntries.contains { $0.ip == IPv4Address(10, 0, 1, 10) && $0.mac == mac })
    #expect(translation.macEntries.count == 9 && translation.arpEntries.count == 9)
    // Every port has a distinct, non-zero tunnel key.
    let keys = topology.ports.values.map(\.tunnelKey)
    #expect(!keys.contains(0) && Set(keys).count == keys.count)
  }

  @Test("translating again gives the same topology; existing tunnel keys are kept")
  func deterministic() throws {
    let first = try Cluster.translate()
    #expect(try Cluster.translate() == first)
    var keys: [ID: UInt32] = [:]
    for port in first.snapshot.ports.values { keys[port.id] = port.tunnelKey + 100 }
    let again = try K8sTranslator(existingTunnelKeys: keys).translate(yaml: Cluster.yaml())
    #expect(again.snapshot.ports.values.allSatisfy { $0.tunnelKey == keys[$0.id] })
  }

  @Test("a label change re-translates only the address group and DNAT that depend on it")
  func labelChange() throws {
    let extra = """
      apiVersion: networking.k8s.io/v1
      kind: NetworkPolicy
      metadata: {name: and, namespace: x}
      spec:
        podSelector: {matchLabels: {pod: a}}
        ingress:
        - from:
          - namespaceSelector: {matchLabels: {ns: y}}
            podSelector: {matchLabels: {pod: b}}
      ---
      apiVersion: v1
      kind: Service
      metadata: {name: web, namespace: y}
      spec: {selector: {pod: b}, clusterIP: 10.96.0.10, ports: [{port: 80}]}
      """
    var manifests = try ManifestParser.parse(Cluster.yaml(extra))
    let before = try K8sTranslator().translate(manifests)
    let index = try #require(manifests.pods.firstIndex { $0.namespace == "y" && $0.name == "b" })
    manifests.pods[index].labels["pod"] = "bee"
    let after = try K8sTranslator().translate(manifests)
    #expect(
      changes(before.snapshot, after.snapshot) == [
        "IPAddrGroup \(K8sNames.id(.ipAddrGroup, "k8s-np-x/and-ingress-0-0"))",
        "Rule \(ID(name: "Rule/k8s-svc-y/web/port-0-tcp-80"))",
      ])
  }

  @Test("a new pod adds its own objects and touches only its namespace, node and selectors")
  func podAdded() throws {
    var manifests = try ManifestParser.parse(Cluster.yaml())
    let before = try K8sTranslator().translate(manifests)
    manifests.pods.append(
      K8sPod(
        namespace: "z", name: "d", labels: ["pod": "d"], nodeName: "node-3",
        ip: IPv4Address(10, 0, 3, 20)))
    var keys: [ID: UInt32] = [:]
    for port in before.snapshot.ports.values { keys[port.id] = port.tunnelKey }
    let after = try K8sTranslator(existingTunnelKeys: keys).translate(manifests)
    let changed = changes(before.snapshot, after.snapshot)
    let port = K8sNames.id(.port, "z/d")
    #expect(changed.contains("Port \(port)"))
    #expect(changed.contains("Bridge \(K8sNames.id(.bridge, "k8s-z"))"))
    #expect(changed.contains("Dhcp \(K8sNames.id(.dhcp, "k8s-z"))"))
    #expect(changed.contains("Host \(K8sNames.id(.host, "node-3"))"))
    // Nothing about the other pods changes: no other port, host or bridge.
    for pod in Cluster.pods { #expect(!changed.contains("Port \(Cluster.portID(pod))")) }
    #expect(!changed.contains("Host \(K8sNames.id(.host, "node-1"))"))
    #expect(!changed.contains("Bridge \(K8sNames.id(.bridge, "k8s-x"))"))
    #expect(!changed.contains { $0.hasPrefix("Router") })
  }

  @Test("a policy change re-translates only that policy's chain")
  func policyChange() throws {
    func policy(_ port: Int) -> String {
      """
      apiVersion: networking.k8s.io/v1
      kind: NetworkPolicy
      metadata: {name: p, namespace: x}
      spec:
        podSelector: {}
        ingress: [{ports: [{port: \(port)}]}]
      """
    }
    let before = try Cluster.translate(policy(80))
    let after = try Cluster.translate(policy(81))
    #expect(
      changes(before.snapshot, after.snapshot) == [
        "Rule \(ID(name: "Rule/k8s-np-x/p-ingress/r0-all-q0"))"
      ])
  }

  @Test("the subnet annotation, and what cannot be translated")
  func subnets() throws {
    let annotated = """
      apiVersion: v1
      kind: Namespace
      metadata: {name: w, annotations: {midge.io/subnet: 10.9.0.0/16}}
      ---
      kind: Pod
      metadata: {name: p, namespace: w}
      spec: {nodeName: n}
      status: {podIP: 10.9.4.4}
      """
    let translation = try K8sTranslator().translate(yaml: annotated)
    #expect(translation.snapshot.dhcps.values.first?.subnet.description == "10.9.0.0/16")

    func failure(_ yaml: String) -> String {
      do {
        _ = try K8sTranslator().translate(yaml: yaml)
        return ""
      } catch {
        return error.description
      }
    }
    let outside = annotated.replacingOccurrences("10.9.4.4", "10.8.4.4")
    #expect(failure(outside).contains("outside its namespace's subnet"))
    let gateway = annotated.replacingOccurrences("10.9.4.4", "10.9.0.1")
    #expect(failure(gateway).contains("the address of the namespace's router port"))
    let overlap =
      annotated + """

        ---
        kind: Pod
        metadata: {name: q, namespace: v}
        spec: {nodeName: n}
        status: {podIP: 10.9.7.7}
        """
    #expect(failure(overlap).contains("overlap"))
  }

  @Test("the topology file export of a translation parses back to the same objects")
  func export() throws {
    let translation = try Cluster.translate(ServiceTests.service)
    let text = TopologyFile.render(translation.snapshot)
    var keys: [ID: UInt32] = [:]
    for port in translation.snapshot.ports.values { keys[port.id] = port.tunnelKey }
    let parsed = try TopologyFile.parse(text, tunnelKeys: keys)
    #expect(Set(parsed.ports.keys) == Set(translation.snapshot.ports.keys))
    #expect(Set(parsed.chains.keys) == Set(translation.snapshot.chains.keys))
    #expect(Set(parsed.bridges.keys) == Set(translation.snapshot.bridges.keys))
  }

  @Test("prune keeps what the translation did not make")
  func prune() throws {
    var current = try Cluster.translate().snapshot
    let router = K8sNames.id(.router, "k8s-router")
    let uplink = Port(
      id: ID(name: "Port/uplink"), device: .router(router),
      portAddress: IPv4Address(198, 51, 100, 1),
      portSubnet: try IPv4Prefix(parsing: "198.51.100.0/24"),
      portMAC: MACAddress(rawValue: 0x02_00_00_00_00_01),
      name: "uplink")
    current.insert(uplink)
    current.routers[router]?.portIds.append(uplink.id)
    current.insert(Bridge(id: ID(name: "Bridge/other"), name: "other"))

    var manifests = try ManifestParser.parse(Cluster.yaml())
    manifests.pods.removeAll { $0.namespace == "z" && $0.name == "c" }
    let next = try K8sTranslator().translate(manifests)
    let desired = next.desired(pruning: current)
    #expect(desired.ports[uplink.id] != nil)
    #expect(desired.routers[router]?.portIds.contains(uplink.id) == true)
    #expect(desired.bridges[ID(name: "Bridge/other")] != nil)
    #expect(desired.ports[Cluster.portID(.init(namespace: "z", name: "c"))] == nil)
    #expect(desired.chains[K8sNames.id(.chain, "k8s-pod-z/c-in")] == nil)
    #expect(
      desired.hosts.values.allSatisfy { host in host.portIds.allSatisfy { desired.ports[$0] != nil }
      })
    #expect(desired.validate().isEmpty, "\(desired.validate())")
    // Pruning a translation against itself changes nothing.
    #expect(next.desired(pruning: next.snapshot) == next.snapshot)
  }

  @Test("implied namespaces, empty namespaces, host-network and pending pods")
  func edges() throws {
    let yaml = """
      kind: Namespace
      metadata: {name: empty}
      ---
      kind: Pod
      metadata: {name: p, namespace: implied}
      spec: {nodeName: n}
      status: {podIP: 10.5.0.9}
      ---
      kind: Pod
      metadata: {name: h, namespace: implied}
      spec: {nodeName: n, hostNetwork: true}
      status: {podIP: 172.16.0.4}
      ---
      kind: Pod
      metadata: {name: done, namespace: implied}
      spec: {nodeName: n}
      status: {podIP: 10.5.0.10, phase: Succeeded}
      """
    let translation = try K8sTranslator().translate(yaml: yaml)
    let topology = translation.snapshot
    #expect(topology.validate().isEmpty, "\(topology.validate())")
    #expect(topology.bridges[K8sNames.id(.bridge, "k8s-empty")]?.portIds == [])
    #expect(topology.ports[K8sNames.id(.port, "k8s-router-empty")] == nil)
    #expect(topology.dhcps[K8sNames.id(.dhcp, "k8s-implied")]?.subnet.description == "10.5.0.0/24")
    #expect(
      Set(topology.ports.values.map(\.name)) == [
        "implied/p", "k8s-router-implied", "k8s-router-implied-link",
      ])
    #expect(translation.warnings.count == 3, "\(translation.warnings)")
    #expect(translation.warnings.contains { $0.contains("namespace implied is not declared") })
  }
}

extension String {
  func replacingOccurrences(_ target: String, _ replacement: String) -> String {
    split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
  }
}
