import Packets
import Simulation
import Testing
import Topology

private let vmMAC1 = "02:00:00:00:00:01"
private let vmMAC2 = "02:00:00:00:00:02"
private let ipv4Type: UInt16 = 0x0800

/// One bridge, two VMs, each with a chain on its inbound side (from the VM).
private func bridged(
  vm1Inbound: [(Condition, RuleAction)]? = nil, vm2Outbound: [(Condition, RuleAction)]? = nil,
  vm1Outbound: [(Condition, RuleAction)]? = nil, extra: (inout Net) -> Void = { _ in }
) -> (Net, vm1: ID, vm2: ID) {
  var net = Net()
  extra(&net)
  let bridge = net.bridge("b1")
  let in1 = vm1Inbound.map { net.chain("vm1-in", $0) }
  let out1 = vm1Outbound.map { net.chain("vm1-out", $0) }
  let out2 = vm2Outbound.map { net.chain("vm2-out", $0) }
  let vm1 = net.vmPort("vm1", on: bridge, inbound: in1, outbound: out1)
  let vm2 = net.vmPort("vm2", on: bridge, outbound: out2)
  net.learn(bridge, vmMAC1, on: vm1)
  net.learn(bridge, vmMAC2, on: vm2)
  return (net, vm1, vm2)
}

@Suite("Chains")
struct ChainTests {
  /// The security-group pattern: anti-spoofing on the way out of a VM,
  /// "return flow or allowed port, else drop" on the way in.
  private func securityGroups() -> (Net, vm1: ID, vm2: ID) {
    let antiSpoof: [(Condition, RuleAction)] = [
      (Condition(dlSrc: mac(vmMAC1), invDlSrc: true), .drop),
      (Condition(dlType: ipv4Type, nwSrc: prefix("10.0.0.1/32"), invNwSrc: true), .drop),
      (.any, .accept),
    ]
    let ingressPolicy: [(Condition, RuleAction)] = [
      (Condition(matchReturnFlow: true), .accept),
      (Condition(dlType: ipv4Type, nwProto: 6, tpDst: 22...22), .accept),
      (.any, .drop),
    ]
    return bridged(vm1Inbound: antiSpoof, vm2Outbound: ingressPolicy, vm1Outbound: ingressPolicy)
  }

  @Test("anti-spoofing: a VM may only send from its own MAC and IP")
  func antiSpoofing() {
    let (net, vm1, vm2) = securityGroups()
    let good = simulator.simulate(
      Frame.tcp(from: vmMAC1, to: vmMAC2, "10.0.0.1", "10.0.0.2"), ingress: vm1, view: net.view)
    #expect(good.outputPorts == [vm2])
    let spoofedIP = simulator.simulate(
      Frame.tcp(from: vmMAC1, to: vmMAC2, "10.0.0.66", "10.0.0.2"), ingress: vm1, view: net.view)
    #expect(
      spoofedIP.dropReason == .ruleDrop(chain: ID(name: "vm1-in"), rule: ID(name: "vm1-in-1")))
    let spoofedMAC = simulator.simulate(
      Frame.tcp(from: "02:00:00:00:00:66", to: vmMAC2, "10.0.0.1", "10.0.0.2"), ingress: vm1,
      view: net.view)
    #expect(
      spoofedMAC.dropReason == .ruleDrop(chain: ID(name: "vm1-in"), rule: ID(name: "vm1-in-0")))
    #expect(spoofedMAC.tags.contains(.chain(ID(name: "vm1-in"))))
  }

  @Test("stateful policy: new inbound connections dropped, replies to our connections accepted")
  func returnFlow() {
    let (net, vm1, vm2) = securityGroups()
    var view = net.view
    // vm2 → vm1 port 5000: not allowed into vm1 (not 22, not a return flow).
    let unsolicited = Frame.tcp(
      from: vmMAC2, to: vmMAC1, "10.0.0.2", "10.0.0.1", sport: 5000, dport: 40_000,
      flags: [.syn, .ack])
    let denied = simulator.simulate(unsolicited, ingress: vm2, view: view)
    #expect(denied.dropReason == .ruleDrop(chain: ID(name: "vm1-out"), rule: ID(name: "vm1-out-2")))

    // vm1 → vm2:22 is allowed and tracked: the result asks for the return key.
    let forward = simulator.simulate(
      Frame.tcp(from: vmMAC1, to: vmMAC2, "10.0.0.1", "10.0.0.2", sport: 40_000, dport: 22),
      ingress: vm1, view: view)
    #expect(forward.outputPorts == [vm2])
    let expected = ConntrackKey(
      tuple: FlowTuple(
        source: ip("10.0.0.2"), destination: ip("10.0.0.1"), ipProtocol: 6, sourcePort: 22,
        destinationPort: 40_000), device: ID(name: "b1"))
    #expect(forward.stateChanges.contains(.conntrack(expected)))
    view.apply(forward.stateChanges)

    // The reply from vm2:22 is a return flow and passes vm1's policy.
    let reply = simulator.simulate(
      Frame.tcp(
        from: vmMAC2, to: vmMAC1, "10.0.0.2", "10.0.0.1", sport: 22, dport: 40_000,
        flags: [.syn, .ack]),
      ingress: vm2, view: view)
    #expect(reply.outputPorts == [vm1])
    #expect(
      !reply.stateChanges.contains { if case .conntrack = $0 { return true } else { return false } }
    )
    // Without the tracked entry the same reply is dropped.
    #expect(simulator.simulate(unsolicited, ingress: vm2, view: net.view).dropReason != nil)
  }

  @Test("JUMP resumes after the jump on RETURN or end; CONTINUE goes on")
  func jumpReturnContinue() {
    var chains = Net()
    chains.chain("helper", [(Condition(nwProto: 17), .return), (Condition(nwProto: 6), .drop)])
    chains.chain(
      "main",
      [
        (.any, .continue),
        (.any, .jump(chainId: ID(name: "helper"))),
        (Condition(tpDst: 53...53), .accept),
        (.any, .drop),
      ])
    var net = chains
    let bridge = net.bridge("b1")
    let vm1 = net.vmPort("vm1", on: bridge, inbound: ID(name: "main"))
    let vm2 = net.vmPort("vm2", on: bridge)
    net.learn(bridge, vmMAC2, on: vm2)
    let udp53 = simulator.simulate(
      Frame.udp(from: vmMAC1, to: vmMAC2, "10.0.0.1", "10.0.0.2", dport: 53), ingress: vm1,
      view: net.view)
    #expect(udp53.outputPorts == [vm2])
    #expect(udp53.tags.contains(.chain(ID(name: "helper"))))
    let udp54 = simulator.simulate(
      Frame.udp(from: vmMAC1, to: vmMAC2, "10.0.0.1", "10.0.0.2", dport: 54), ingress: vm1,
      view: net.view)
    #expect(udp54.dropReason == .ruleDrop(chain: ID(name: "main"), rule: ID(name: "main-3")))
    let tcp = simulator.simulate(
      Frame.tcp(from: vmMAC1, to: vmMAC2, "10.0.0.1", "10.0.0.2"), ingress: vm1, view: net.view)
    #expect(tcp.dropReason == .ruleDrop(chain: ID(name: "helper"), rule: ID(name: "helper-1")))
  }

  @Test("a jump loop is cut by the depth guard")
  func jumpLoop() {
    let (net, vm1, _) = bridged(
      vm1Inbound: [(.any, .jump(chainId: ID(name: "vm1-in")))])
    let result = simulator.simulate(
      Frame.udp(from: vmMAC1, to: vmMAC2, "10.0.0.1", "10.0.0.2"), ingress: vm1, view: net.view)
    #expect(result.dropReason == .jumpDepthExceeded(chain: ID(name: "vm1-in")))
  }

  @Test("a jump to a chain not loaded gives notYet")
  func jumpNotYet() {
    let (net, vm1, _) = bridged(vm1Inbound: [(.any, .jump(chainId: ID(name: "elsewhere")))])
    let result = simulator.simulate(
      Frame.udp(from: vmMAC1, to: vmMAC2, "10.0.0.1", "10.0.0.2"), ingress: vm1, view: net.view)
    #expect(result.verdict == .notYet([ObjectRef(.chain, ID(name: "elsewhere"))]))
  }

  @Test("REJECT answers TCP with a RST and UDP with ICMP administratively prohibited")
  func reject() throws {
    let (net, vm1, _) = bridged(vm1Inbound: [(.any, .reject)])
    let tcp = simulator.simulate(
      Frame.tcp(from: vmMAC1, to: vmMAC2, "10.0.0.1", "10.0.0.2"), ingress: vm1, view: net.view)
    #expect(tcp.dropReason == .ruleReject(chain: ID(name: "vm1-in"), rule: ID(name: "vm1-in-0")))
    let rst = try #require(tcp.generatedPackets.first)
    #expect(rst.kind == .tcpReset)
    #expect(rst.egressPort == vm1)
    let parsed = try PacketParser.parse(rst.frame)
    #expect(parsed.tcp?.flags.contains(.rst) == true)
    #expect(parsed.ipv4?.destination == ip("10.0.0.1"))

    let udp = simulator.simulate(
      Frame.udp(from: vmMAC1, to: vmMAC2, "10.0.0.1", "10.0.0.2"), ingress: vm1, view: net.view)
    let icmp = try PacketParser.parse(try #require(udp.generatedPackets.first).frame)
    #expect(icmp.icmp?.type == .destinationUnreachable)
    #expect(icmp.icmp?.code == ICMPCode.Unreachable.administrativelyProhibited)
  }

  @Test("port groups, address groups and inverted conditions")
  func groups() {
    let group = ID(name: "pg")
    let addresses = ID(name: "ag")
    let (net, vm1, vm2) = bridged(
      vm2Outbound: [
        (Condition(portGroupId: group, invPortGroup: true), .drop),
        (Condition(ipAddrGroupIdSrc: addresses), .accept),
        (.any, .drop),
      ],
      extra: { net in
        net.topology.insert(PortGroup(id: group, name: "pg", portIds: [ID(name: "vm1")]))
        net.topology.insert(IPAddrGroup(id: addresses, name: "ag", addresses: [ip("10.0.0.1")]))
      })
    let member = simulator.simulate(
      Frame.udp(from: vmMAC1, to: vmMAC2, "10.0.0.1", "10.0.0.2"), ingress: vm1, view: net.view)
    #expect(member.outputPorts == [vm2])
    #expect(member.tags.contains(.ipAddrGroup(addresses)))
    let notInGroup = simulator.simulate(
      Frame.udp(from: vmMAC1, to: vmMAC2, "10.0.0.7", "10.0.0.2"), ingress: vm1, view: net.view)
    #expect(
      notInGroup.dropReason == .ruleDrop(chain: ID(name: "vm2-out"), rule: ID(name: "vm2-out-2")))

    var withoutGroup = net
    withoutGroup.topology.remove(IPAddrGroup.self, id: addresses)
    let parked = simulator.simulate(
      Frame.udp(from: vmMAC1, to: vmMAC2, "10.0.0.1", "10.0.0.2"), ingress: vm1,
      view: withoutGroup.view)
    #expect(parked.verdict == .notYet([ObjectRef(.ipAddrGroup, addresses)]))
  }
}
