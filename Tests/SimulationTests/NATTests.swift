import Packets
import Simulation
import Testing
import Topology

private let routerMAC = "02:00:00:00:01:01"
private let uplinkMAC = "02:00:00:00:02:01"
private let gatewayMAC = "02:00:00:00:03:01"
private let internetMAC = "02:00:00:00:03:01"

/// VM1 (10.0.0.1, floating IP 203.0.113.100) and VM2 (10.0.0.2, SNAT to the
/// router's uplink address) behind a router with an exterior uplink.
private struct Edge {
  var net = Net()
  let router: ID
  let uplink: ID
  let vm1: ID
  let vm2: ID

  init() {
    let pre = net.chain(
      "pre-routing",
      [
        (.any, .reverseSNAT),
        (
          Condition(nwDst: prefix("203.0.113.100/32")),
          .dnat(targets: [NatTarget(address: ip("10.0.0.1"))])
        ),
      ])
    let uplinkId = ID(name: "uplink")
    let post = net.chain(
      "post-routing",
      [
        (.any, .reverseDNAT),
        (
          Condition(outPortIds: [uplinkId], nwSrc: prefix("10.0.0.1/32")),
          .snat(targets: [NatTarget(address: ip("203.0.113.100"))])
        ),
        (
          Condition(outPortIds: [uplinkId], nwSrc: prefix("10.0.0.0/24")),
          .snat(targets: [
            NatTarget(
              addressFrom: ip("203.0.113.1"), addressTo: ip("203.0.113.1"), portFrom: 30_000,
              portTo: 30_999)
          ])
        ),
      ])
    let bridge = net.bridge("b1")
    router = net.router("edge", inbound: pre, outbound: post)
    vm1 = net.vmPort("vm1", on: bridge)
    vm2 = net.vmPort("vm2", on: bridge)
    net.attach(
      router: router, to: bridge, name: "edge-b1", address: "10.0.0.254", subnet: "10.0.0.0/24",
      mac: routerMAC)
    uplink = net.routerPort(
      "uplink", on: router, address: "203.0.113.1", subnet: "203.0.113.0/24", mac: uplinkMAC,
      exterior: true)
    net.route("default", on: router, to: "0.0.0.0/0", via: uplink, gateway: "203.0.113.254")
    net.learn(bridge, vm1MAC, on: vm1)
    net.learn(bridge, vm2MAC, on: vm2)
    net.arp(router, "10.0.0.1", vm1MAC)
    net.arp(router, "10.0.0.2", vm2MAC)
    net.arp(router, "203.0.113.254", gatewayMAC)
  }
}

private func bindings(_ result: SimulationResult) -> [NATBinding] {
  result.stateChanges.compactMap {
    if case .natBinding(let binding) = $0 { return binding }
    return nil
  }
}

@Suite("NAT")
struct NATTests {
  @Test("SNAT on the way out, reverse SNAT for the reply")
  func snat() throws {
    let edge = Edge()
    var view = edge.net.view
    let out = simulator.simulate(
      Frame.udp(from: vm2MAC, to: routerMAC, "10.0.0.2", "198.51.100.7", sport: 40_000, dport: 53),
      ingress: edge.vm2, view: view)
    #expect(out.outputPorts == [edge.uplink])
    let binding = try #require(bindings(out).first)
    let port = binding.forward.port
    #expect((30_000...30_999).contains(port))
    #expect(binding.forward.address == ip("203.0.113.1"))
    #expect(
      out.actions == [
        .setEthernetSource(mac(uplinkMAC)), .setEthernetDestination(mac(gatewayMAC)),
        .setNetworkSource(ip("203.0.113.1")), .setTransportSource(port), .decrementTTL,
        .output(port: edge.uplink),
      ])
    view.apply(out.stateChanges)

    // Same flow again (its flow expired): same binding, no new state.
    let again = simulator.simulate(
      Frame.udp(from: vm2MAC, to: routerMAC, "10.0.0.2", "198.51.100.7", sport: 40_000, dport: 53),
      ingress: edge.vm2, view: view)
    #expect(again.actions == out.actions)
    #expect(bindings(again).isEmpty)

    let reply = simulator.simulate(
      Frame.udp(
        from: internetMAC, to: uplinkMAC, "198.51.100.7", "203.0.113.1", sport: 53, dport: port),
      ingress: edge.uplink, view: view)
    #expect(reply.outputPorts == [edge.vm2])
    #expect(reply.actions.contains(.setNetworkDestination(ip("10.0.0.2"))))
    #expect(reply.actions.contains(.setTransportDestination(40_000)))

    // Without the binding the reply is for the router itself.
    let stray = simulator.simulate(
      Frame.udp(
        from: internetMAC, to: uplinkMAC, "198.51.100.7", "203.0.113.1", sport: 53, dport: port),
      ingress: edge.uplink, view: edge.net.view)
    #expect(stray.dropReason == .routerLocal(router: edge.router))
  }

  @Test("port allocation avoids bindings already in the view")
  func allocationAvoidsTaken() throws {
    let edge = Edge()
    let packet = Frame.udp(
      from: vm2MAC, to: routerMAC, "10.0.0.2", "198.51.100.7", sport: 40_000, dport: 53)
    let first = try #require(
      bindings(simulator.simulate(packet, ingress: edge.vm2, view: edge.net.view)).first)
    var view = edge.net.view
    // Another connection already holds that reverse entry.
    view.nat[first.reverseKey] = NATTranslation(address: ip("10.0.0.9"), port: 1)
    let second = try #require(
      bindings(simulator.simulate(packet, ingress: edge.vm2, view: view)).first)
    #expect(second.forward.port != first.forward.port)
    let expected = first.forward.port == 30_999 ? 30_000 : first.forward.port + 1
    #expect(second.forward.port == expected)
  }

  @Test("ICMP echo through SNAT translates the identifier both ways")
  func icmpSNAT() throws {
    let edge = Edge()
    var view = edge.net.view
    let out = simulator.simulate(
      Frame.icmp(from: vm2MAC, to: routerMAC, "10.0.0.2", "198.51.100.7", id: 77),
      ingress: edge.vm2, view: view)
    let binding = try #require(bindings(out).first)
    #expect(out.actions.contains(.setTransportSource(binding.forward.port)))
    view.apply(out.stateChanges)
    let reply = simulator.simulate(
      Frame.icmp(
        from: internetMAC, to: uplinkMAC, "198.51.100.7", "203.0.113.1", type: .echoReply,
        id: binding.forward.port),
      ingress: edge.uplink, view: view)
    #expect(reply.outputPorts == [edge.vm2])
    #expect(reply.actions.contains(.setTransportSource(77)))
  }

  @Test(
    "floating IP: inbound to the floating address reaches the VM, and both directions translate")
  func floatingIP() throws {
    let edge = Edge()
    var view = edge.net.view

    // Internet → floating IP: DNAT to the fixed address.
    let inbound = simulator.simulate(
      Frame.tcp(
        from: internetMAC, to: uplinkMAC, "198.51.100.7", "203.0.113.100", sport: 5555, dport: 80),
      ingress: edge.uplink, view: view)
    #expect(inbound.outputPorts == [edge.vm1])
    #expect(inbound.actions.contains(.setNetworkDestination(ip("10.0.0.1"))))
    #expect(
      !inbound.actions.contains { if case .setTransportDestination = $0 { true } else { false } })
    view.apply(inbound.stateChanges)

    // The VM's reply leaves with the floating IP as its source (reverse DNAT).
    let reply = simulator.simulate(
      Frame.tcp(
        from: vm1MAC, to: routerMAC, "10.0.0.1", "198.51.100.7", sport: 80, dport: 5555,
        flags: [.syn, .ack]),
      ingress: edge.vm1, view: view)
    #expect(reply.outputPorts == [edge.uplink])
    #expect(reply.actions.contains(.setNetworkSource(ip("203.0.113.100"))))
    #expect(bindings(reply).isEmpty)

    // A connection the VM opens leaves from the floating IP too (static SNAT,
    // port kept), and its reply comes back in.
    let outbound = simulator.simulate(
      Frame.tcp(
        from: vm1MAC, to: routerMAC, "10.0.0.1", "198.51.100.7", sport: 41_000, dport: 443),
      ingress: edge.vm1, view: view)
    #expect(outbound.actions.contains(.setNetworkSource(ip("203.0.113.100"))))
    #expect(!outbound.actions.contains(.setTransportSource(41_000)))
    view.apply(outbound.stateChanges)
    let back = simulator.simulate(
      Frame.tcp(
        from: internetMAC, to: uplinkMAC, "198.51.100.7", "203.0.113.100", sport: 443,
        dport: 41_000, flags: [.syn, .ack]),
      ingress: edge.uplink, view: view)
    #expect(back.outputPorts == [edge.vm1])
    #expect(back.actions.contains(.setNetworkDestination(ip("10.0.0.1"))))
  }
}
