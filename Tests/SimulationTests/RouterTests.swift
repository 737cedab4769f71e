import Packets
import Simulation
import Testing
import Topology

let rp1MAC = "02:00:00:00:01:01"
let rp2MAC = "02:00:00:00:01:02"

/// VM1 (10.0.0.1) on b1, VM2 (10.0.1.2) on b2, a router between them
/// (10.0.0.254 and 10.0.1.254).
struct Routed {
  var net = Net()
  let b1: ID
  let b2: ID
  let router: ID
  let vm1: ID
  let vm2: ID
  let rp1: ID
  let rp2: ID

  init(
    vm1Inbound: ID? = nil, vm1Outbound: ID? = nil, vm2Inbound: ID? = nil,
    vm2Outbound: ID? = nil, configure: (inout Net) -> Void = { _ in }
  ) {
    configure(&net)
    b1 = net.bridge("b1")
    b2 = net.bridge("b2")
    router = net.router("r1")
    vm1 = net.vmPort("vm1", on: b1, inbound: vm1Inbound, outbound: vm1Outbound)
    vm2 = net.vmPort("vm2", on: b2, inbound: vm2Inbound, outbound: vm2Outbound)
    rp1 =
      net.attach(
        router: router, to: b1, name: "r1-b1", address: "10.0.0.254", subnet: "10.0.0.0/24",
        mac: rp1MAC
      ).routerPort
    rp2 =
      net.attach(
        router: router, to: b2, name: "r1-b2", address: "10.0.1.254", subnet: "10.0.1.0/24",
        mac: rp2MAC
      ).routerPort
    net.learn(b1, vm1MAC, on: vm1)
    net.learn(b2, vm2MAC, on: vm2)
    net.arp(router, "10.0.1.2", vm2MAC)
    net.arp(router, "10.0.0.1", vm1MAC)
  }

  func vm1ToVM2(ttl: UInt8 = 64) -> SimulationPacket {
    Frame.udp(from: vm1MAC, to: rp1MAC, "10.0.0.1", "10.0.1.2", ttl: ttl)
  }
}

@Suite("Router")
struct RouterTests {
  @Test("VMs on two bridges joined by a router: MACs rewritten, TTL decremented, one output")
  func routed() {
    let topo = Routed()
    let result = simulator.simulate(topo.vm1ToVM2(), ingress: topo.vm1, view: topo.net.view)
    #expect(result.verdict == .forward)
    #expect(
      result.actions == [
        .setEthernetSource(mac(rp2MAC)), .setEthernetDestination(mac(vm2MAC)), .decrementTTL,
        .output(port: topo.vm2),
      ])
    for tag: FlowTag in [
      .device(topo.b1), .device(topo.router), .device(topo.b2), .port(topo.rp1), .port(topo.rp2),
      .route(ID(name: "r1-b2-connected")),
      .routerDestination(router: topo.router, ip: ip("10.0.1.2")),
      .arpEntry(router: topo.router, ip: ip("10.0.1.2")),
      .bridgeMAC(bridge: topo.b2, vlan: 0, mac: mac(vm2MAC)),
    ] {
      #expect(result.tags.contains(tag), "missing \(tag)")
    }
    #expect(result.devicesVisited == 3)
  }

  @Test("unknown next hop: ARP request emitted, packet waits; the reply is learned")
  func arpResolution() throws {
    var topo = Routed()
    topo.net.arpTable = [:]
    var view = topo.net.view
    let waiting = simulator.simulate(topo.vm1ToVM2(), ingress: topo.vm1, view: view)
    #expect(waiting.verdict == .awaitingARP(router: topo.router, ip: ip("10.0.1.2")))
    #expect(!waiting.installsFlow)
    #expect(waiting.actions.isEmpty)
    let request = try #require(waiting.generatedPackets.first)
    #expect(request.kind == .arpRequest)
    #expect(request.egressPort == topo.rp2)
    let arp = try #require(try PacketParser.parse(request.frame).arp)
    #expect(arp.targetProtocolAddress == ip("10.0.1.2"))
    #expect(arp.senderProtocolAddress == ip("10.0.1.254"))

    // The request, sent out of the router port, floods on b2 and reaches VM2.
    let sent = simulator.simulateGenerated(request, view: view)
    #expect(sent.outputPorts == [topo.vm2])

    // VM2 answers; the bridge knows the router's MAC, the router learns VM2.
    let reply = simulator.simulate(
      Frame.arpReply(from: vm2MAC, "10.0.1.2", to: rp2MAC, "10.0.1.254"), ingress: topo.vm2,
      view: view)
    #expect(reply.verdict == .consumed)
    #expect(
      reply.stateChanges.contains(
        .arpLearned(router: topo.router, ip: ip("10.0.1.2"), mac: mac(vm2MAC))))
    view.apply(reply.stateChanges)
    let again = simulator.simulate(topo.vm1ToVM2(), ingress: topo.vm1, view: view)
    #expect(again.outputPorts == [topo.vm2])
  }

  @Test("a router answers ARP for its own port address; bridges answer for router ports too")
  func routerARP() throws {
    var net = Net()
    let router = net.router("edge")
    let uplink = net.routerPort(
      "uplink", on: router, address: "203.0.113.1", subnet: "203.0.113.0/24", mac: rp1MAC,
      exterior: true)
    let result = simulator.simulate(
      Frame.arpRequest(from: "02:aa:00:00:00:01", "203.0.113.7", for: "203.0.113.1"),
      ingress: uplink,
      view: net.view)
    #expect(result.verdict == .consumed)
    let reply = try #require(result.generatedPackets.first)
    #expect(reply.egressPort == uplink)
    let arp = try #require(try PacketParser.parse(reply.frame).arp)
    #expect(arp.senderHardwareAddress == mac(rp1MAC))
    #expect(arp.targetHardwareAddress == mac("02:aa:00:00:00:01"))
    #expect(
      result.stateChanges == [
        .arpLearned(router: router, ip: ip("203.0.113.7"), mac: mac("02:aa:00:00:00:01"))
      ])

    // Through a bridge: the bridge answers for the gateway address itself.
    let topo = Routed()
    let viaBridge = simulator.simulate(
      Frame.arpRequest(from: vm1MAC, "10.0.0.1", for: "10.0.0.254"), ingress: topo.vm1,
      view: topo.net.view)
    #expect(viaBridge.verdict == .consumed)
    let gateway = try #require(try PacketParser.parse(viaBridge.generatedPackets[0].frame).arp)
    #expect(gateway.senderHardwareAddress == mac(rp1MAC))
  }

  @Test("TTL expiry: drop and ICMP time exceeded back to the sender")
  func ttlExpiry() throws {
    let topo = Routed()
    let result = simulator.simulate(topo.vm1ToVM2(ttl: 1), ingress: topo.vm1, view: topo.net.view)
    #expect(result.dropReason == .ttlExpired(router: topo.router))
    let error = try #require(result.generatedPackets.first)
    #expect(error.kind == .icmpError)
    #expect(error.egressPort == topo.rp1)
    let parsed = try PacketParser.parse(error.frame)
    #expect(parsed.icmp?.type == .timeExceeded)
    #expect(parsed.ipv4?.source == ip("10.0.0.254"))
    #expect(parsed.ipv4?.destination == ip("10.0.0.1"))
    #expect(parsed.ethernet.destination == mac(vm1MAC))
    #expect(parsed.icmpQuote(in: error.frame)?.ipv4.destination == ip("10.0.1.2"))

    // The error, simulated from the router port, reaches VM1.
    let back = simulator.simulateGenerated(error, view: topo.net.view)
    #expect(back.outputPorts == [topo.vm1])
  }

  @Test("no route: drop and ICMP net unreachable")
  func noRoute() throws {
    let topo = Routed()
    let packet = Frame.udp(from: vm1MAC, to: rp1MAC, "10.0.0.1", "172.16.0.1")
    let result = simulator.simulate(packet, ingress: topo.vm1, view: topo.net.view)
    #expect(result.dropReason == .noRoute(router: topo.router))
    let parsed = try PacketParser.parse(try #require(result.generatedPackets.first).frame)
    #expect(parsed.icmp?.type == .destinationUnreachable)
    #expect(parsed.icmp?.code == ICMPCode.Unreachable.network)
    #expect(result.tags.contains(.routerDestination(router: topo.router, ip: ip("172.16.0.1"))))
  }

  @Test("no ICMP error about an ICMP error, a broadcast or a later fragment")
  func noErrorAboutErrors() throws {
    let topo = Routed()
    let view = topo.net.view
    let unreachable = Frame.icmp(
      from: vm1MAC, to: rp1MAC, "10.0.0.1", "172.16.0.1", type: .destinationUnreachable)
    let result = simulator.simulate(unreachable, ingress: topo.vm1, view: view)
    #expect(result.dropReason == .noRoute(router: topo.router))
    #expect(result.generatedPackets.isEmpty)

    let expiredError = Frame.icmp(
      from: vm1MAC, to: rp1MAC, "10.0.0.1", "10.0.1.2", type: .timeExceeded, ttl: 1)
    #expect(
      simulator.simulate(expiredError, ingress: topo.vm1, view: view).generatedPackets.isEmpty)

    var fragment = topo.vm1ToVM2(ttl: 1)
    fragment.match.fragmentType = .later
    #expect(simulator.simulate(fragment, ingress: topo.vm1, view: view).generatedPackets.isEmpty)

    var broadcast = Frame.udp(from: vm1MAC, to: rp1MAC, "10.0.0.1", "255.255.255.255")
    broadcast.match.networkTTL = 1
    #expect(simulator.simulate(broadcast, ingress: topo.vm1, view: view).generatedPackets.isEmpty)
  }

  @Test("ICMP echo to a router address is answered")
  func echo() throws {
    let topo = Routed()
    let ping = Frame.icmp(from: vm1MAC, to: rp1MAC, "10.0.0.1", "10.0.1.254", id: 99)
    let result = simulator.simulate(ping, ingress: topo.vm1, view: topo.net.view)
    #expect(result.verdict == .consumed)
    let reply = try #require(result.generatedPackets.first)
    #expect(reply.kind == .icmpEchoReply)
    #expect(reply.egressPort == topo.rp1)
    let parsed = try PacketParser.parse(reply.frame)
    #expect(parsed.icmp?.type == .echoReply)
    #expect(parsed.icmp?.identifier == 99)
    #expect(parsed.ipv4?.source == ip("10.0.1.254"))
    #expect(parsed.ipv4?.destination == ip("10.0.0.1"))
  }

  @Test("longest prefix wins; source prefixes and weights are honoured; blackhole and reject")
  func longestPrefix() {
    var topo = Routed()
    let r = topo.router
    topo.net.route("wide", on: r, to: "10.0.0.0/8", via: topo.rp1)
    topo.net.route("hole", on: r, to: "10.0.1.128/25", nextHop: .blackhole)
    topo.net.route("from-x", on: r, to: "10.0.1.2/32", from: "10.9.0.0/16", via: topo.rp1)
    topo.net.route("heavy", on: r, to: "10.0.1.0/24", via: topo.rp1, weight: 500)
    topo.net.route("reject", on: r, to: "10.0.2.0/24", nextHop: .reject)
    let view = topo.net.view
    // /24 connected (weight 100) beats /8 and the heavier /24; /32 is for another source.
    let result = simulator.simulate(topo.vm1ToVM2(), ingress: topo.vm1, view: view)
    #expect(result.outputPorts == [topo.vm2])
    #expect(result.tags.contains(.route(ID(name: "r1-b2-connected"))))
    let hole = simulator.simulate(
      Frame.udp(from: vm1MAC, to: rp1MAC, "10.0.0.1", "10.0.1.200"), ingress: topo.vm1, view: view)
    #expect(hole.dropReason == .blackhole(route: ID(name: "hole")))
    let rejected = simulator.simulate(
      Frame.udp(from: vm1MAC, to: rp1MAC, "10.0.0.1", "10.0.2.9"), ingress: topo.vm1, view: view)
    #expect(rejected.dropReason == .rejectRoute(route: ID(name: "reject")))
    #expect(rejected.generatedPackets.count == 1)
  }

  @Test("ECMP spreads flows over equal routes, and never over an inactive uplink")
  func ecmp() {
    var net = Net()
    let bridge = net.bridge("b1")
    let router = net.router("r1")
    let vm1 = net.vmPort("vm1", on: bridge)
    net.attach(
      router: router, to: bridge, name: "r1-b1", address: "10.0.0.254", subnet: "10.0.0.0/24",
      mac: rp1MAC)
    let up1 = net.routerPort(
      "up1", on: router, address: "203.0.113.1", subnet: "203.0.113.0/30", mac: "02:00:00:00:02:01",
      exterior: true)
    let up2 = net.routerPort(
      "up2", on: router, address: "203.0.113.5", subnet: "203.0.113.4/30", mac: "02:00:00:00:02:02",
      exterior: true)
    net.route("default-1", on: router, to: "0.0.0.0/0", via: up1, gateway: "203.0.113.2")
    net.route("default-2", on: router, to: "0.0.0.0/0", via: up2, gateway: "203.0.113.6")
    net.route(
      "default-backup", on: router, to: "0.0.0.0/0", via: up2, gateway: "203.0.113.6", weight: 900)
    net.arp(router, "203.0.113.2", "02:00:00:00:03:01")
    net.arp(router, "203.0.113.6", "02:00:00:00:03:02")

    func spread(_ view: SimulationView) -> [ID: Int] {
      var counts: [ID: Int] = [:]
      for sport in UInt16(1000)..<1200 {
        let packet = Frame.udp(from: vm1MAC, to: rp1MAC, "10.0.0.1", "198.51.100.7", sport: sport)
        let result = simulator.simulate(packet, ingress: vm1, view: view)
        for port in result.outputPorts { counts[port, default: 0] += 1 }
        // Same flow, same choice.
        #expect(simulator.simulate(packet, ingress: vm1, view: view).actions == result.actions)
      }
      return counts
    }
    let both = spread(net.view)
    #expect(both[up1, default: 0] > 50)
    #expect(both[up2, default: 0] > 50)
    #expect(both[up1, default: 0] + both[up2, default: 0] == 200)

    var withoutUp2 = net
    withoutUp2.active[up2] = nil
    let one = spread(withoutUp2.view)
    #expect(one == [up1: 200])
    let result = simulator.simulate(
      Frame.udp(from: vm1MAC, to: rp1MAC, "10.0.0.1", "198.51.100.7"), ingress: vm1,
      view: withoutUp2.view)
    #expect(result.tags.contains(.port(up2)))
  }

  @Test("a routing loop ends in a drop with the loop reason")
  func routingLoop() {
    var net = Net()
    let bridge = net.bridge("b1")
    let r1 = net.router("r1")
    let r2 = net.router("r2")
    let vm1 = net.vmPort("vm1", on: bridge)
    net.attach(
      router: r1, to: bridge, name: "r1-b1", address: "10.0.0.254", subnet: "10.0.0.0/24",
      mac: rp1MAC)
    let a = net.routerPort(
      "r1-r2", on: r1, address: "169.254.0.1", subnet: "169.254.0.0/30", mac: "02:00:00:00:04:01")
    let b = net.routerPort(
      "r2-r1", on: r2, address: "169.254.0.2", subnet: "169.254.0.0/30", mac: "02:00:00:00:04:02")
    net.link(a, b)
    net.route("r1-default", on: r1, to: "0.0.0.0/0", via: a, gateway: "169.254.0.2")
    net.route("r2-default", on: r2, to: "0.0.0.0/0", via: b, gateway: "169.254.0.1")
    let packet = Frame.udp(from: vm1MAC, to: rp1MAC, "10.0.0.1", "198.51.100.7", ttl: 255)
    let result = simulator.simulate(packet, ingress: vm1, view: net.view)
    #expect(result.dropReason == .tooManyDevices(limit: 16))
    #expect(result.devicesVisited == 17)
  }

  @Test("a bridge loop ends in a drop with the loop reason")
  func bridgeLoop() {
    var net = Net()
    let b1 = net.bridge("b1")
    let b2 = net.bridge("b2")
    let vm1 = net.vmPort("vm1", on: b1)
    for index in 0..<2 {
      let p = net.interiorPort("b1-link\(index)", on: .bridge(b1))
      let q = net.interiorPort("b2-link\(index)", on: .bridge(b2))
      net.link(p, q)
    }
    let result = simulator.simulate(
      Frame.udp(from: vm1MAC, to: "ff:ff:ff:ff:ff:ff", "10.0.0.1", "10.0.0.255"), ingress: vm1,
      view: net.view)
    #expect(result.dropReason == .tooManyDevices(limit: 16))
  }
}
