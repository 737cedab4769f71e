import Testing
import Topology

@Suite struct ModelTests {
  @Test func modelTypeNamesAreTheNSDBNames() {
    #expect(
      ModelType.allCases.map(\.rawValue) == [
        "Host", "TunnelZone", "Bridge", "Router", "Port", "Route", "Chain", "Rule", "PortGroup",
        "IPAddrGroup", "Dhcp",
      ])
    #expect(Host.modelType == .host)
    #expect(TunnelZone.modelType == .tunnelZone)
    #expect(Bridge.modelType == .bridge)
    #expect(Router.modelType == .router)
    #expect(Port.modelType == .port)
    #expect(Route.modelType == .route)
    #expect(Chain.modelType == .chain)
    #expect(Rule.modelType == .rule)
    #expect(PortGroup.modelType == .portGroup)
    #expect(IPAddrGroup.modelType == .ipAddrGroup)
    #expect(Dhcp.modelType == .dhcp)
  }

  @Test func portKinds() {
    let bridge = id("b")
    let unbound = Port(id: id("p0"), device: .bridge(bridge))
    #expect(!unbound.isExterior && !unbound.isInterior && !unbound.isBound)
    #expect(unbound.bridgeId == bridge)
    #expect(unbound.routerId == nil)
    #expect(unbound.device.id == bridge)
    #expect(unbound.device.modelType == .bridge)

    let exterior = Port(
      id: id("p1"), device: .bridge(bridge), hostId: id("h"), interfaceName: "tap0")
    #expect(exterior.isExterior && !exterior.isInterior && exterior.isBound)

    let halfBound = Port(id: id("p2"), device: .bridge(bridge), hostId: id("h"))
    #expect(!halfBound.isExterior && !halfBound.isBound)

    let interior = Port(id: id("p3"), device: .router(id("r")), peerId: id("p0"))
    #expect(!interior.isExterior && interior.isInterior && interior.isBound)
    #expect(interior.routerId == id("r"))
    #expect(interior.bridgeId == nil)
    #expect(interior.device.modelType == .router)
  }

  @Test func snapshotInsertLookupRemove() {
    var topology = TopologySnapshot()
    #expect(topology.count == 0)
    let bridge = Bridge(id: id("b"), name: "b")
    topology.insert(bridge)
    topology.insert(Router(id: id("r"), name: "r"))
    #expect(topology.count == 2)
    #expect(topology[Bridge.self, id: bridge.id] == bridge)
    #expect(topology[Router.self, id: bridge.id] == nil)
    #expect(topology.contains(.bridge, id: bridge.id))
    #expect(!topology.contains(.router, id: bridge.id))
    #expect(topology.ids(of: .bridge) == [bridge.id])

    var renamed = bridge
    renamed.name = "front"
    topology.insert(renamed)
    #expect(topology.count == 2)
    #expect(topology.bridges[bridge.id]?.name == "front")

    #expect(topology.remove(Bridge.self, id: bridge.id) == renamed)
    #expect(topology.remove(Bridge.self, id: bridge.id) == nil)
    #expect(topology.count == 1)
  }

  @Test func everyTypeReachesItsDictionary() {
    let topology = TopologyFixture.make()
    for type in ModelType.allCases {
      let ids = topology.ids(of: type)
      #expect(!ids.isEmpty, "fixture has a \(type.rawValue)")
      #expect(ids.allSatisfy { topology.contains(type, id: $0) })
    }
    #expect(topology.count == 16)
  }

  @Test func tunnelZoneHostIdsDefaultToMembers() {
    let a = id("a")
    let b = id("b")
    let endpoint = TunnelZone.Endpoint(address: ip("127.0.0.1"), port: 6_677)
    let zone = TunnelZone(id: id("z"), name: "z", members: [b: endpoint, a: endpoint])
    #expect(zone.hostIds == [a, b].sorted())
  }

  @Test func ruleActions() {
    let terminal: [RuleAction] = [
      .accept, .drop, .reject, .return, .dnat(targets: []), .snat(targets: []), .reverseDNAT,
      .reverseSNAT,
    ]
    #expect(terminal.allSatisfy { $0.isTerminal })
    #expect(!RuleAction.continue.isTerminal)
    #expect(!RuleAction.jump(chainId: id("c")).isTerminal)
  }

  @Test func natTargets() {
    let single = NatTarget(address: ip("10.0.0.1"))
    #expect(single.addressFrom == single.addressTo)
    #expect(single.portFrom == 0 && single.portTo == 0)
    #expect(single.isWellFormed)
    let ports = NatTarget(
      addressFrom: ip("10.0.0.1"), addressTo: ip("10.0.0.4"), portFrom: 2_000, portTo: 1_000)
    #expect(!ports.isWellFormed)
  }

  @Test func routeDefaults() {
    let route = Route(
      id: id("rt"), routerId: id("r"), dstPrefix: prefix("0.0.0.0/0"), nextHop: .blackhole)
    #expect(route.srcPrefix == .all)
    #expect(route.nextHopPortId == nil)
    #expect(!route.learned)
  }
}
