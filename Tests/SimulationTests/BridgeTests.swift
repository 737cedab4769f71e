import Packets
import Simulation
import Testing
import Topology

private let vm3MAC = "02:00:00:00:00:03"

/// One bridge with three VM ports, all local.
private func threeVMs() -> (Net, bridge: ID, ports: [ID]) {
  var net = Net()
  let bridge = net.bridge("b1")
  let ports = [
    net.vmPort("vm1", on: bridge), net.vmPort("vm2", on: bridge), net.vmPort("vm3", on: bridge),
  ]
  return (net, bridge, ports)
}

@Suite("Bridge")
struct BridgeTests {
  @Test("two VMs on one bridge: known destination gives one output and precise tags")
  func knownDestination() {
    var (net, bridge, ports) = threeVMs()
    net.learn(bridge, vm2MAC, on: ports[1])
    let packet = Frame.udp(from: vm1MAC, to: vm2MAC, "10.0.0.1", "10.0.0.2")
    let result = simulator.simulate(packet, ingress: ports[0], view: net.view)
    #expect(result.verdict == .forward)
    #expect(result.actions == [.output(port: ports[1])])
    #expect(result.tags.contains(.device(bridge)))
    #expect(result.tags.contains(.port(ports[0])))
    #expect(result.tags.contains(.port(ports[1])))
    #expect(result.tags.contains(.bridgeMAC(bridge: bridge, vlan: 0, mac: mac(vm2MAC))))
    #expect(!result.tags.contains(.port(ports[2])))
    #expect(
      result.stateChanges == [
        .macLearned(bridge: bridge, vlan: 0, mac: mac(vm1MAC), port: ports[0])
      ])
    #expect(result.installsFlow)
  }

  @Test("unknown destination floods to every other port, then learning makes it unicast")
  func floodThenLearn() {
    let (net, bridge, ports) = threeVMs()
    var view = net.view
    let first = simulator.simulate(
      Frame.udp(from: vm1MAC, to: vm2MAC, "10.0.0.1", "10.0.0.2"), ingress: ports[0], view: view)
    #expect(first.verdict == .forward)
    #expect(first.outputPorts == [ports[1], ports[2]].sorted())
    #expect(first.tags.contains(.bridgeMAC(bridge: bridge, vlan: 0, mac: mac(vm2MAC))))
    view.apply(first.stateChanges)

    // The reply: vm1 is known now, so it goes to vm1 only, and vm2 is learned.
    let reply = simulator.simulate(
      Frame.udp(from: vm2MAC, to: vm1MAC, "10.0.0.2", "10.0.0.1"), ingress: ports[1], view: view)
    #expect(reply.actions == [.output(port: ports[0])])
    #expect(
      reply.stateChanges == [.macLearned(bridge: bridge, vlan: 0, mac: mac(vm2MAC), port: ports[1])]
    )
    view.apply(reply.stateChanges)

    // Learning vm2 is what invalidates the first (flooded) flow; simulated
    // again it goes to vm2 only and learns nothing new.
    let again = simulator.simulate(
      Frame.udp(from: vm1MAC, to: vm2MAC, "10.0.0.1", "10.0.0.2"), ingress: ports[0], view: view)
    #expect(again.actions == [.output(port: ports[1])])
    #expect(again.stateChanges.isEmpty)
  }

  @Test("broadcast floods and is never learned as a destination")
  func broadcast() {
    let (net, _, ports) = threeVMs()
    let result = simulator.simulate(
      Frame.udp(from: vm1MAC, to: "ff:ff:ff:ff:ff:ff", "10.0.0.1", "10.0.0.255"),
      ingress: ports[0], view: net.view)
    #expect(Set(result.outputPorts) == [ports[1], ports[2]])
  }

  @Test("a port served by another host is reached through its tunnel with its key")
  func remotePort() {
    var net = Net()
    let bridge = net.bridge("b1")
    let vm1 = net.vmPort("vm1", on: bridge)
    let vm2 = net.vmPort("vm2", on: bridge, host: remoteHost)
    net.learn(bridge, vm2MAC, on: vm2)
    let result = simulator.simulate(
      Frame.udp(from: vm1MAC, to: vm2MAC, "10.0.0.1", "10.0.0.2"), ingress: vm1, view: net.view)
    let key = net.active[vm2]!.tunnelKey
    #expect(result.actions == [.tunnel(port: vm2, host: remoteHost, tunnelKey: key)])
  }

  @Test("destination behind the ingress port is dropped (hairpin)")
  func hairpin() {
    var (net, bridge, ports) = threeVMs()
    net.learn(bridge, vm2MAC, on: ports[0])
    let result = simulator.simulate(
      Frame.udp(from: vm1MAC, to: vm2MAC, "10.0.0.1", "10.0.0.2"), ingress: ports[0], view: net.view
    )
    #expect(result.dropReason == .hairpin(bridge: bridge, port: ports[0]))
  }

  @Test("ARP suppression: a known IP is answered by the bridge, nothing floods, no flow")
  func arpSuppression() throws {
    let (net, bridge, ports) = threeVMs()
    var view = net.view
    view.bridgeIPTable[DeviceIPKey(device: bridge, ip: ip("10.0.0.2"))] = mac(vm2MAC)
    let result = simulator.simulate(
      Frame.arpRequest(from: vm1MAC, "10.0.0.1", for: "10.0.0.2"), ingress: ports[0], view: view)
    #expect(result.verdict == .consumed)
    #expect(result.actions.isEmpty)
    #expect(!result.installsFlow)
    let reply = try #require(result.generatedPackets.first)
    #expect(reply.kind == .arpReply)
    #expect(reply.egressPort == ports[0])
    let arp = try #require(try PacketParser.parse(reply.frame).arp)
    #expect(arp.operation == .reply)
    #expect(arp.senderHardwareAddress == mac(vm2MAC))
    #expect(arp.senderProtocolAddress == ip("10.0.0.2"))
    #expect(arp.targetProtocolAddress == ip("10.0.0.1"))

    // An unknown IP floods like any broadcast (and installs no flow: ARP).
    let unknown = simulator.simulate(
      Frame.arpRequest(from: vm1MAC, "10.0.0.1", for: "10.0.0.9"), ingress: ports[0], view: view)
    #expect(Set(unknown.outputPorts) == [ports[1], ports[2]])
    #expect(!unknown.installsFlow)
  }

  @Test("DHCP static hosts answer ARP for their addresses")
  func dhcpHostARP() throws {
    var (net, bridge, ports) = threeVMs()
    net.topology.insert(
      Dhcp(
        id: ID(name: "dhcp"), bridgeId: bridge, subnet: prefix("10.0.0.0/24"),
        hosts: [DhcpHost(mac: mac(vm3MAC), ip: ip("10.0.0.3"))]))
    let result = simulator.simulate(
      Frame.arpRequest(from: vm1MAC, "10.0.0.1", for: "10.0.0.3"), ingress: ports[0],
      view: net.view)
    #expect(result.verdict == .consumed)
    let arp = try #require(try PacketParser.parse(result.generatedPackets[0].frame).arp)
    #expect(arp.senderHardwareAddress == mac(vm3MAC))
  }

  @Test("down ports, down bridges and inactive ports drop with their reason")
  func downAndInactive() {
    var (net, bridge, ports) = threeVMs()
    net.learn(bridge, vm2MAC, on: ports[1])
    let packet = Frame.udp(from: vm1MAC, to: vm2MAC, "10.0.0.1", "10.0.0.2")

    var downIngress = net
    downIngress.topology.ports[ports[0]]?.adminStateUp = false
    #expect(
      simulator.simulate(packet, ingress: ports[0], view: downIngress.view).dropReason
        == .portDown(ports[0]))

    var downBridge = net
    downBridge.topology.bridges[bridge]?.adminStateUp = false
    #expect(
      simulator.simulate(packet, ingress: ports[0], view: downBridge.view).dropReason
        == .deviceDown(bridge))

    var inactive = net
    inactive.active[ports[1]] = nil
    let result = simulator.simulate(packet, ingress: ports[0], view: inactive.view)
    #expect(result.dropReason == .portInactive(ports[1]))
    #expect(result.tags.contains(.port(ports[1])))
    #expect(result.installsFlow)
  }

  @Test("objects missing from the view give notYet with their ids and no directives")
  func notYet() {
    var (net, bridge, ports) = threeVMs()
    let packet = Frame.udp(from: vm1MAC, to: vm2MAC, "10.0.0.1", "10.0.0.2")
    let unknownPort = ID(name: "unknown-port")
    #expect(
      simulator.simulate(packet, ingress: unknownPort, view: net.view).verdict
        == .notYet([ObjectRef(.port, unknownPort)]))

    net.topology.remove(Bridge.self, id: bridge)
    let result = simulator.simulate(packet, ingress: ports[0], view: net.view)
    #expect(result.verdict == .notYet([ObjectRef(.bridge, bridge)]))
    #expect(result.stateChanges.isEmpty)
    #expect(result.actions.isEmpty)
    #expect(!result.installsFlow)
  }

  @Test("VLANs: access ports flood only their VLAN; a trunk gets the frame tagged")
  func vlans() {
    var net = Net()
    let bridge = net.bridge("b1")
    let a10 = net.vmPort("a10", on: bridge, vlan: 10)
    let b10 = net.vmPort("b10", on: bridge, vlan: 10)
    _ = net.vmPort("c20", on: bridge, vlan: 20)
    let trunk = net.vmPort("trunk", on: bridge)
    let result = simulator.simulate(
      Frame.udp(from: vm1MAC, to: vm2MAC, "10.0.0.1", "10.0.0.2"), ingress: a10, view: net.view)
    #expect(Set(result.outputPorts) == [b10, trunk])
    #expect(
      result.stateChanges == [.macLearned(bridge: bridge, vlan: 10, mac: mac(vm1MAC), port: a10)])
    // The access port gets it untagged, the trunk tagged with 10.
    var tagged = false
    for action in result.actions {
      if action == .pushVLAN(10) { tagged = true }
      if action == .output(port: b10) { #expect(!tagged) }
      if action == .output(port: trunk) { #expect(tagged) }
    }
    #expect(tagged)

    // A tagged frame from the trunk on VLAN 20 reaches only the VLAN 20 port, untagged.
    let fromTrunk = simulator.simulate(
      Frame.udp(from: vm3MAC, to: "ff:ff:ff:ff:ff:ff", "10.0.0.3", "10.0.0.255", vlan: 20),
      ingress: trunk, view: net.view)
    #expect(fromTrunk.actions == [.popVLAN, .output(port: ID(name: "c20"))])
  }

  @Test("trace names the devices and the decision")
  func trace() {
    var (net, bridge, ports) = threeVMs()
    net.learn(bridge, vm2MAC, on: ports[1])
    let packet = Frame.udp(from: vm1MAC, to: vm2MAC, "10.0.0.1", "10.0.0.2")
    let traced = simulator.simulate(packet, ingress: ports[0], view: net.view, trace: true)
    let untraced = simulator.simulate(packet, ingress: ports[0], view: net.view)
    #expect(untraced.trace.isEmpty)
    #expect(traced.trace.contains { $0.kind == .bridge && $0.object == bridge })
    #expect(traced.trace.last?.detail == "forward")
    #expect(traced.trace.formatted.contains("output locally"))
    #expect(traced.actions == untraced.actions)
  }
}
