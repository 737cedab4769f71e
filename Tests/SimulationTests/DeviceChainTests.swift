import Packets
import Simulation
import Testing
import Topology

private let vm3MAC = "02:00:00:00:00:03"
private let udpProto: UInt8 = 17

/// One bridge with three VMs (their MACs learned unless `learn` is false) and the
/// given bridge chains, named `b1-in` and `b1-out`.
private func bridgeWithChains(
  inbound: [(Condition, RuleAction)]? = nil, outbound: [(Condition, RuleAction)]? = nil,
  learn: Bool = true
) -> (Net, bridge: ID, vms: [ID]) {
  var net = Net()
  let inChain = inbound.map { net.chain("b1-in", $0) }
  let outChain = outbound.map { net.chain("b1-out", $0) }
  let bridge = net.bridge("b1", inbound: inChain, outbound: outChain)
  let vms = ["vm1", "vm2", "vm3"].map { net.vmPort($0, on: bridge) }
  if learn {
    for (port, macText) in zip(vms, [vm1MAC, vm2MAC, vm3MAC]) {
      net.learn(bridge, macText, on: port)
    }
  }
  return (net, bridge, vms)
}

/// The index of the first trace step about `object` of `kind`, if any.
private func step(_ result: SimulationResult, _ kind: TraceStep.Kind, _ object: ID) -> Int? {
  result.trace.firstIndex { $0.kind == kind && $0.object == object }
}

/// The chains a device (not a port) owns: a bridge's inbound and outbound
/// filters and a router's forward filter. Port chains are in ChainTests; these
/// are evaluated at different points of the walk, so they get their own
/// scenarios.
@Suite("Device chains")
struct DeviceChainTests {
  @Test("bridge inbound chain: a DROP there drops traffic entering the bridge, before learning")
  func bridgeInboundDrop() throws {
    let (net, bridge, vms) = bridgeWithChains(
      inbound: [(Condition(nwProto: udpProto, tpDst: 53...53), .drop)], learn: false)
    let chain = ID(name: "b1-in")
    let dropped = simulator.simulate(
      Frame.udp(from: vm1MAC, to: vm2MAC, "10.0.0.1", "10.0.0.2", dport: 53), ingress: vms[0],
      view: net.view, trace: true)
    #expect(dropped.dropReason == .ruleDrop(chain: chain, rule: ID(name: "b1-in-0")))
    #expect(dropped.actions.isEmpty)
    #expect(dropped.outputPorts.isEmpty)
    // The drop flow must go when the chain or the bridge changes.
    #expect(dropped.tags.contains(.chain(chain)))
    #expect(dropped.tags.contains(.device(bridge)))
    #expect(dropped.tags.contains(.port(vms[0])))
    // A frame the bridge's policy refuses must not teach the bridge its MAC
    // (else a filtered sender could still move another VM's MAC to itself).
    #expect(dropped.stateChanges.isEmpty)

    // The trace: the bridge takes the packet in, evaluates the chain, the rule matches.
    let inBridge = try #require(step(dropped, .bridge, bridge))
    let evaluated = try #require(step(dropped, .chain, chain))
    let matched = try #require(step(dropped, .rule, ID(name: "b1-in-0")))
    #expect(inBridge < evaluated && evaluated < matched)
    #expect(dropped.trace[evaluated].detail == "evaluating 1 rules")
    #expect(dropped.trace[matched].detail == "matched: drop")
    #expect(
      dropped.trace.last?.detail
        == "\(Verdict.drop(.ruleDrop(chain: chain, rule: ID(name: "b1-in-0"))))")

    // Traffic the chain does not match floods as usual, and is tagged with the chain too:
    // editing the chain must revisit the flows it accepted.
    let passed = simulator.simulate(
      Frame.udp(from: vm1MAC, to: vm2MAC, "10.0.0.1", "10.0.0.2", dport: 54), ingress: vms[0],
      view: net.view)
    #expect(passed.isForward)
    #expect(Set(passed.outputPorts) == [vms[1], vms[2]])
    #expect(passed.tags.contains(.chain(chain)))
    #expect(
      passed.stateChanges.contains(
        .macLearned(bridge: bridge, vlan: 0, mac: mac(vm1MAC), port: vms[0])))
  }

  @Test("bridge inbound chain sees the ingress port: one port's traffic dropped, another's not")
  func bridgeInboundByPort() {
    var (net, _, vms) = bridgeWithChains()
    // The chain is defined after the ports exist, so it can name one of them.
    net.chain("b1-in", [(Condition(inPortIds: [ID(name: "vm3")]), .drop)])
    net.topology.bridges[ID(name: "b1")]?.inboundFilterId = ID(name: "b1-in")
    let fromVM3 = simulator.simulate(
      Frame.udp(from: vm3MAC, to: vm1MAC, "10.0.0.3", "10.0.0.1"), ingress: vms[2], view: net.view)
    #expect(fromVM3.dropReason == .ruleDrop(chain: ID(name: "b1-in"), rule: ID(name: "b1-in-0")))
    let fromVM2 = simulator.simulate(
      Frame.udp(from: vm2MAC, to: vm1MAC, "10.0.0.2", "10.0.0.1"), ingress: vms[1], view: net.view)
    #expect(fromVM2.outputPorts == [vms[0]])
    #expect(fromVM2.tags.contains(.chain(ID(name: "b1-in"))))
  }

  @Test("bridge outbound chain sees packets leaving: per egress port, on unicast and on floods")
  func bridgeOutbound() throws {
    var (net, bridge, vms) = bridgeWithChains()
    net.chain("b1-out", [(Condition(outPortIds: [ID(name: "vm3")]), .drop)])
    net.topology.bridges[bridge]?.outboundFilterId = ID(name: "b1-out")
    let chain = ID(name: "b1-out")
    let rule = ID(name: "b1-out-0")

    // Unicast to vm3 leaves through vm3: dropped by the outbound chain.
    let toVM3 = simulator.simulate(
      Frame.udp(from: vm1MAC, to: vm3MAC, "10.0.0.1", "10.0.0.3"), ingress: vms[0],
      view: net.view, trace: true)
    #expect(toVM3.dropReason == .ruleDrop(chain: chain, rule: rule))
    #expect(toVM3.actions.isEmpty)
    #expect(toVM3.tags.contains(.chain(chain)))
    #expect(toVM3.tags.contains(.bridgeMAC(bridge: bridge, vlan: 0, mac: mac(vm3MAC))))
    // The chain runs once the bridge has chosen the egress port.
    let chosen = try #require(
      toVM3.trace.firstIndex { $0.kind == .bridge && $0.detail.contains("is on port") })
    let evaluated = try #require(step(toVM3, .chain, chain))
    let matched = try #require(step(toVM3, .rule, rule))
    #expect(chosen < evaluated && evaluated < matched)

    // Unicast to vm2 is not matched: forwarded, and still tagged with the chain.
    let toVM2 = simulator.simulate(
      Frame.udp(from: vm1MAC, to: vm2MAC, "10.0.0.1", "10.0.0.2"), ingress: vms[0], view: net.view)
    #expect(toVM2.outputPorts == [vms[1]])
    #expect(toVM2.tags.contains(.chain(chain)))

    // A broadcast floods to vm2 and vm3; the chain removes only vm3's copy.
    let flood = simulator.simulate(
      Frame.udp(from: vm1MAC, to: "ff:ff:ff:ff:ff:ff", "10.0.0.1", "10.0.0.255"),
      ingress: vms[0], view: net.view, trace: true)
    #expect(flood.isForward)
    #expect(flood.outputPorts == [vms[1]])
    #expect(flood.tags.contains(.chain(chain)))
    // Evaluated once per egress port of the flood.
    #expect(flood.trace.filter { $0.kind == .chain && $0.object == chain }.count == 2)
    #expect(flood.trace.filter { $0.kind == .rule && $0.object == rule }.count == 1)
  }

  @Test("bridge inbound chain runs before the outbound chain; both tag the flow")
  func bridgeChainOrder() throws {
    let (net, _, vms) = bridgeWithChains(inbound: [(.any, .accept)], outbound: [(.any, .accept)])
    let result = simulator.simulate(
      Frame.udp(from: vm1MAC, to: vm2MAC, "10.0.0.1", "10.0.0.2"), ingress: vms[0],
      view: net.view, trace: true)
    #expect(result.outputPorts == [vms[1]])
    #expect(result.tags.contains(.chain(ID(name: "b1-in"))))
    #expect(result.tags.contains(.chain(ID(name: "b1-out"))))
    let inbound = try #require(step(result, .chain, ID(name: "b1-in")))
    let outbound = try #require(step(result, .chain, ID(name: "b1-out")))
    #expect(inbound < outbound)
  }

  /// The routed topology with a forward chain on r1 that drops 10.0.0.0/24 → 10.0.1.0/24.
  private func routedWithForwardChain() -> Routed {
    var topo = Routed()
    let chain = topo.net.chain(
      "r1-fwd",
      [(Condition(nwSrc: prefix("10.0.0.0/24"), nwDst: prefix("10.0.1.0/24")), .drop)])
    topo.net.topology.routers[topo.router]?.forwardFilterId = chain
    return topo
  }

  @Test("router forward chain drops routed traffic between the two subnets")
  func routerForwardDrop() throws {
    let topo = routedWithForwardChain()
    let chain = ID(name: "r1-fwd")
    let rule = ID(name: "r1-fwd-0")
    let result = simulator.simulate(
      topo.vm1ToVM2(), ingress: topo.vm1, view: topo.net.view, trace: true)
    #expect(result.dropReason == .ruleDrop(chain: chain, rule: rule))
    #expect(result.actions.isEmpty)
    #expect(result.generatedPackets.isEmpty)
    for tag: FlowTag in [
      .chain(chain), .device(topo.b1), .device(topo.router),
      .route(ID(name: "r1-b2-connected")),
      .routerDestination(router: topo.router, ip: ip("10.0.1.2")),
    ] {
      #expect(result.tags.contains(tag), "missing \(tag)")
    }
    // The packet never reached b2.
    #expect(!result.tags.contains(.device(topo.b2)))
    // The chain runs after the route is chosen (it knows the egress port).
    let routed = try #require(step(result, .route, ID(name: "r1-b2-connected")))
    let evaluated = try #require(step(result, .chain, chain))
    let matched = try #require(step(result, .rule, rule))
    #expect(routed < evaluated && evaluated < matched)
    #expect(result.trace[matched].detail == "matched: drop")

    // The other direction is not matched by the rule and is routed, tagged with the chain.
    let back = simulator.simulate(
      Frame.udp(from: vm2MAC, to: rp2MAC, "10.0.1.2", "10.0.0.1"), ingress: topo.vm2,
      view: topo.net.view)
    #expect(back.outputPorts == [topo.vm1])
    #expect(back.tags.contains(.chain(chain)))
  }

  @Test("router forward chain does not apply to traffic for the router itself: echo answered")
  func routerForwardSparesLocal() throws {
    let topo = routedWithForwardChain()
    // An echo to the near port's address, and one to the far port's address (which is
    // inside the blocked destination subnet): both are for the router, not routed.
    for address in ["10.0.0.254", "10.0.1.254"] {
      let result = simulator.simulate(
        Frame.icmp(from: vm1MAC, to: rp1MAC, "10.0.0.1", address), ingress: topo.vm1,
        view: topo.net.view, trace: true)
      #expect(result.verdict == .consumed, "echo to \(address)")
      #expect(!result.tags.contains(.chain(ID(name: "r1-fwd"))))
      #expect(step(result, .chain, ID(name: "r1-fwd")) == nil)
      let reply = try #require(result.generatedPackets.first)
      #expect(result.generatedPackets.count == 1)
      #expect(reply.kind == .icmpEchoReply)
      #expect(reply.egressPort == topo.rp1)
      let parsed = try PacketParser.parse(reply.frame)
      #expect(parsed.ipv4?.source == ip(address))
      #expect(parsed.ipv4?.destination == ip("10.0.0.1"))

      // The reply leaves the router port into b1 and reaches VM1.
      let delivered = simulator.simulateGenerated(reply, view: topo.net.view)
      #expect(delivered.outputPorts == [topo.vm1])
    }
  }

  @Test("router forward chain sees the egress port chosen by the route")
  func routerForwardByEgressPort() {
    var topo = Routed()
    let chain = topo.net.chain("r1-fwd", [(Condition(outPortIds: [topo.rp2]), .drop)])
    topo.net.topology.routers[topo.router]?.forwardFilterId = chain
    let toVM2 = simulator.simulate(topo.vm1ToVM2(), ingress: topo.vm1, view: topo.net.view)
    #expect(toVM2.dropReason == .ruleDrop(chain: chain, rule: ID(name: "r1-fwd-0")))
    let toVM1 = simulator.simulate(
      Frame.udp(from: vm2MAC, to: rp2MAC, "10.0.1.2", "10.0.0.1"), ingress: topo.vm2,
      view: topo.net.view)
    #expect(toVM1.outputPorts == [topo.vm1])
  }
}
