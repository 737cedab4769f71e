import Addresses
import MidgeTestSupport
import Testing
import Topology
import ZooKeeper

@testable import NSDB

@Suite("NSDB bindings and delete policies")
struct BindingTests {
  let bridge = ID.named("bridge")
  let router = ID.named("router")

  @Test("Bridge.portIds ↔ Port.bridgeId: created together, CASCADE from bridge, CLEAR from port")
  func bridgePorts() async throws {
    let f = try await NSDBFixture.make("bind-bridge")
    let store = f.store
    try await store.create(Bridge(id: bridge, name: "b"))
    let ports = (0..<3).map { ID.named("bp\($0)") }
    for port in ports { try await store.create(Port(id: port, device: .bridge(bridge))) }
    #expect(try await store.get(Bridge.self, bridge).portIds == ports)

    try await store.delete(Port.self, ports[1])
    #expect(try await store.get(Bridge.self, bridge).portIds == [ports[0], ports[2]])

    try await store.delete(Bridge.self, bridge)
    for port in ports { #expect(try await !store.exists(Port.self, port)) }
    await f.close()
  }

  @Test("a port cannot be stolen from another device; a dangling reference changes nothing")
  func conflicts() async throws {
    let f = try await NSDBFixture.make("bind-conflict")
    let store = f.store
    try await store.create(Bridge(id: bridge, name: "b"))
    try await store.create(Bridge(id: .named("other"), name: "o"))
    try await store.create(Port(id: .named("p"), device: .bridge(bridge)))
    do {
      var other = try await store.get(Bridge.self, .named("other"))
      other.portIds = [.named("p")]
      try await store.update(other)
      Issue.record("a port was bound to a second bridge")
    } catch let error as NSDBError {
      #expect(error.code == .referenceConflict)
      #expect(error.message.contains("belongs to Bridge"))
    }
    #expect(try await store.get(Bridge.self, .named("other")).portIds.isEmpty)

    do {
      try await store.create(Port(id: .named("q"), device: .bridge(.named("missing"))))
      Issue.record("a port on a missing bridge was created")
    } catch let error as NSDBError {
      #expect(error.code == .danglingReference)
      #expect(error.message.contains("does not exist"))
    }
    #expect(try await !store.exists(Port.self, .named("q")))
    await f.close()
  }

  @Test("Port.candidates ↔ Host.candidatePortIds: kept by the NSDB, CLEAR both ways")
  func candidateHosts() async throws {
    let f = try await NSDBFixture.make("bind-candidates")
    let store = f.store
    let (a, b) = (ID.named("host-a"), ID.named("host-b"))
    try await store.create(Host(id: a, name: "a"))
    try await store.create(Host(id: b, name: "b"))
    try await store.create(Bridge(id: bridge, name: "b"))
    let uplink = ID.named("uplink")
    var port = Port(id: uplink, device: .bridge(bridge))
    port.candidates = [
      PortCandidate(hostId: a, interfaceName: "eth1", priority: 2),
      PortCandidate(hostId: b, interfaceName: "eth1"),
    ]
    try await store.create(port)
    #expect(try await store.get(Host.self, a).candidatePortIds == [uplink])
    #expect(try await store.get(Host.self, b).candidatePortIds == [uplink])

    // A host cannot make itself a candidate: the interface is the port's to say.
    let plain = ID.named("plain")
    try await store.create(Port(id: plain, device: .bridge(bridge)))
    do {
      var other = try await store.get(Host.self, b)
      other.candidatePortIds.append(plain)
      try await store.update(other)
      Issue.record("a host named a port that does not list it")
    } catch let error as NSDBError {
      #expect(error.code == .referenceConflict)
    }
    #expect(try await store.get(Port.self, plain).candidates.isEmpty)

    try await store.delete(Host.self, b)
    #expect(try await store.get(Port.self, uplink).candidates.map(\.hostId) == [a])
    try await store.delete(Port.self, uplink)
    #expect(try await store.get(Host.self, a).candidatePortIds.isEmpty)
    await f.close()
  }

  @Test("router ports, routes, peers: CASCADE and CLEAR across several bindings")
  func routerRoutesPeers() async throws {
    let f = try await NSDBFixture.make("bind-router")
    let store = f.store
    let routerPort = ID.named("rp")
    let bridgePort = ID.named("bp")
    let route = ID.named("route")
    try await store.transaction { tx in
      try await tx.create(Router(id: router, name: "r"))
      try await tx.create(Bridge(id: bridge, name: "b"))
      try await tx.create(Port(id: routerPort, device: .router(router)))
      try await tx.create(Port(id: bridgePort, device: .bridge(bridge), peerId: routerPort))
      try await tx.create(
        Route(
          id: route, routerId: router, dstPrefix: IPv4Prefix(IPv4Address(10, 0, 0, 0), length: 8),
          nextHop: .port, nextHopPortId: routerPort))
    }
    #expect(try await store.get(Port.self, routerPort).peerId == bridgePort)
    #expect(try await store.get(Port.self, routerPort).routeIds == [route])
    #expect(try await store.get(Router.self, router).routeIds == [route])
    #expect(try await store.get(Router.self, router).portIds == [routerPort])

    // Deleting the router port cascades its routes and clears the peer.
    try await store.delete(Port.self, routerPort)
    #expect(try await !store.exists(Route.self, route))
    #expect(try await store.get(Router.self, router).routeIds.isEmpty)
    #expect(try await store.get(Router.self, router).portIds.isEmpty)
    #expect(try await store.get(Port.self, bridgePort).peerId == nil)
    await f.close()
  }

  @Test("hosts, tunnel zones, port groups: CLEAR both ways")
  func clearBindings() async throws {
    let f = try await NSDBFixture.make("bind-clear")
    let store = f.store
    let host = ID.named("host")
    let zone = ID.named("zone")
    let group = ID.named("group")
    let port = ID.named("port")
    try await store.transaction { tx in
      try await tx.create(Host(id: host, name: "h"))
      try await tx.create(
        TunnelZone(
          id: zone, name: "z", members: [host: .init(address: IPv4Address(127, 0, 0, 1), port: 1)]))
      try await tx.create(PortGroup(id: group, name: "g", stateful: true))
      try await tx.create(Bridge(id: bridge, name: "b"))
      try await tx.create(
        Port(
          id: port, device: .bridge(bridge), portGroupIds: [group], hostId: host,
          interfaceName: "veth"))
    }
    #expect(try await store.get(Host.self, host).tunnelZoneIds == [zone])
    #expect(try await store.get(Host.self, host).portIds == [port])
    #expect(try await store.get(PortGroup.self, group).portIds == [port])

    try await store.delete(Host.self, host)
    #expect(try await store.get(Port.self, port).hostId == nil)
    let zoneAfter = try await store.get(TunnelZone.self, zone)
    #expect(zoneAfter.hostIds.isEmpty)
    #expect(zoneAfter.members.isEmpty)
    try await store.delete(PortGroup.self, group)
    #expect(try await store.get(Port.self, port).portGroupIds.isEmpty)
    await f.close()
  }

  @Test(
    "Rule.chainId ↔ Chain.ruleIds keeps order; CLEAR from rule, CASCADE from chain; DHCP cascades")
  func chainsAndDhcp() async throws {
    let f = try await NSDBFixture.make("bind-chain")
    let store = f.store
    let chain = ID.named("chain")
    let rules = (0..<5).map { ID.named("rule\($0)") }
    try await store.transaction { tx in
      try await tx.create(Chain(id: chain, name: "c"))
      for rule in rules { try await tx.create(Rule(id: rule, chainId: chain, action: .accept)) }
    }
    #expect(try await store.get(Chain.self, chain).ruleIds == rules)
    // Reordering the chain keeps the set and the new order.
    var reordered = try await store.get(Chain.self, chain)
    reordered.ruleIds = rules.reversed()
    try await store.update(reordered)
    #expect(try await store.get(Chain.self, chain).ruleIds == rules.reversed())
    try await store.delete(Rule.self, rules[2])
    #expect(
      try await store.get(Chain.self, chain).ruleIds == [rules[4], rules[3], rules[1], rules[0]])
    try await store.delete(Chain.self, chain)
    for rule in rules { #expect(try await !store.exists(Rule.self, rule)) }

    let dhcp = ID.named("dhcp")
    try await store.create(Bridge(id: bridge, name: "b"))
    try await store.create(
      Dhcp(id: dhcp, bridgeId: bridge, subnet: IPv4Prefix(IPv4Address(10, 0, 0, 0), length: 24)))
    #expect(try await store.get(Bridge.self, bridge).dhcpIds == [dhcp])
    try await store.delete(Bridge.self, bridge)
    #expect(try await !store.exists(Dhcp.self, dhcp))
    await f.close()
  }

  @Test("an ERROR binding refuses the delete and changes nothing")
  func errorPolicy() async throws {
    var bindings = Binding.standard
    bindings.append(
      Binding(
        left: .list(\Chain.ruleIds, "ruleIds"), right: .required(\Rule.chainId, "chainId"),
        onDeleteLeft: .error, onDeleteRight: .clear))
    bindings.removeAll { $0.left.name == "Rule.chainId" }
    let f = try await NSDBFixture.make("bind-error", bindings: bindings)
    let store = f.store
    let chain = ID.named("chain")
    try await store.create(Chain(id: chain, name: "c"))
    try await store.create(Rule(id: .named("r"), chainId: chain, action: .drop))
    do {
      try await store.delete(Chain.self, chain)
      Issue.record("an ERROR binding let the delete through")
    } catch let error as NSDBError {
      #expect(error.code == .stillReferenced)
      #expect(error.message.contains("still references"))
    }
    #expect(try await store.exists(Chain.self, chain))
    #expect(try await store.exists(Rule.self, .named("r")))
    await f.close()
  }
}
