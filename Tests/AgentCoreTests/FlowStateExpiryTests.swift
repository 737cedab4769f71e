import Addresses
import AgentCore
import Datapath
import Packets
import Simulation
import Testing
import Topology

/// CoreWorld's router with source NAT out of its right port: 10.0.1.0/24 leaves as
/// 10.0.2.1, ports 30000-30001 (two, so a port's reuse after expiry shows), and replies
/// are translated back. The neighbour 10.0.2.7 is known, so nothing waits for ARP.
private struct NATWorld {
  static let server = "10.0.2.7"
  var world: CoreWorld

  init(timeouts: FlowStateTimeouts = FlowStateTimeouts()) {
    world = CoreWorld()
    world.core.flowState.timeouts = timeouts
    let pre = ID(name: "pre")
    let post = ID(name: "post")
    let reverse = ID(name: "reverse-snat")
    let snat = ID(name: "snat")
    world.upsert(Chain(id: pre, name: "pre", ruleIds: [reverse]))
    world.upsert(Rule(id: reverse, chainId: pre, action: .reverseSNAT))
    world.upsert(Chain(id: post, name: "post", ruleIds: [snat]))
    world.upsert(
      Rule(
        id: snat, chainId: post,
        condition: Condition(outPortIds: [W.right], nwSrc: IPv4Prefix("10.0.1.0/24")),
        action: .snat(targets: [
          NatTarget(
            addressFrom: IPv4Address(10, 0, 2, 1), addressTo: IPv4Address(10, 0, 2, 1),
            portFrom: 30_000, portTo: 30_001)
        ])))
    world.upsert(
      Router(id: W.router, name: "router", inboundFilterId: pre, outboundFilterId: post))
    _ = world.core.applyARPTable(
      W.router, [IPv4Address(10, 0, 2, 7): W.remoteMAC, IPv4Address(10, 0, 1, 5): W.vm1MAC],
      now: world.at(0))
  }

  /// A TCP segment from the client 10.0.1.5:`port` to the server's port 80.
  static func outbound(port: UInt16, flags: TCPFlags) throws -> (FlowMatch, [UInt8]) {
    try segment(
      in: 3, from: W.vm1MAC, to: W.leftMAC, "10.0.1.5", port, server, 80, flags)
  }

  /// The server's segment back to the translated address 10.0.2.1:`port`.
  static func inbound(port: UInt16, flags: TCPFlags) throws -> (FlowMatch, [UInt8]) {
    try segment(in: 4, from: W.remoteMAC, to: W.rightMAC, server, 80, "10.0.2.1", port, flags)
  }

  static func segment(
    in datapathPort: UInt32, from srcMAC: MACAddress, to dstMAC: MACAddress, _ srcIP: String,
    _ srcPort: UInt16, _ dstIP: String, _ dstPort: UInt16, _ flags: TCPFlags
  ) throws -> (FlowMatch, [UInt8]) {
    let frame = try PacketBuilder.tcp(
      ethernet: EthernetHeader(destination: dstMAC, source: srcMAC),
      ipv4: IPv4Header(
        source: try #require(IPv4Address(srcIP)), destination: try #require(IPv4Address(dstIP))),
      tcp: TCPHeader(sourcePort: srcPort, destinationPort: dstPort, flags: flags))
    return (try FlowMatch(frame: frame, ingressPort: datapathPort), frame)
  }

  /// Runs a miss and returns the installed flow.
  mutating func flow(_ packet: (FlowMatch, [UInt8]), at seconds: Double) throws -> FlowEntry {
    let out = world.core.miss(packet.0, frame: packet.1, now: world.at(seconds))
    return try #require(out.installs.first, "no flow for \(packet.0)")
  }

  /// The source port the flow's actions translate to.
  static func translatedPort(_ flow: FlowEntry) -> UInt16? {
    for action in flow.actions {
      if case .setTransportSource(let port) = action { return port }
    }
    return nil
  }
}

@Suite("Flow state: conntrack and NAT entries expire when no flow uses them")
struct FlowStateExpiryTests {
  @Test("an idle NAT binding expires at its timeout, its flows go, and its port is free again")
  func idleBindingExpires() throws {
    var timeouts = FlowStateTimeouts()
    timeouts.tcpEstablished = .seconds(20)
    var nat = NATWorld(timeouts: timeouts)
    let first = try nat.flow(try NATWorld.outbound(port: 1000, flags: .syn), at: 1)
    let second = try nat.flow(try NATWorld.outbound(port: 1001, flags: .syn), at: 1)
    let ports = [NATWorld.translatedPort(first), NATWorld.translatedPort(second)]
    #expect(Set(ports.compactMap { $0 }) == [30_000, 30_001])
    #expect(nat.world.core.flowState.natCount == 2)
    // Both ports taken: a third connection finds none.
    let third = nat.world.core.miss(
      try NATWorld.outbound(port: 1002, flags: .syn).0,
      frame: try NATWorld.outbound(port: 1002, flags: .syn).1, now: nat.world.at(2))
    #expect(
      third.installs.first?.actions.contains { if case .drop = $0 { true } else { false } } == true)

    // The first connection's flow carries packets; the second's does not.
    #expect(nat.world.core.sweepFlowState(usedTags: first.tags, now: nat.world.at(15)).isEmpty)
    let sweep = nat.world.core.sweepFlowState(usedTags: first.tags, now: nat.world.at(22))
    #expect(sweep.counts == [.flowStateExpired(1)])
    #expect(
      !Set(sweep.invalidated).isDisjoint(with: second.tags), "the idle flow is not invalidated")
    #expect(Set(sweep.invalidated).isDisjoint(with: first.tags), "the live flow is invalidated")
    #expect(nat.world.core.flowState.natCount == 1)
    #expect(nat.world.core.view.nat.count == 2, "the live binding's two entries remain")

    // The freed port serves a new connection.
    let fourth = try nat.flow(try NATWorld.outbound(port: 1003, flags: .syn), at: 23)
    #expect(NATWorld.translatedPort(fourth) == NATWorld.translatedPort(second))
  }

  @Test("a reply flow keeps the binding alive; after FIN it goes at the closing timeout")
  func closingConnection() throws {
    var timeouts = FlowStateTimeouts()
    timeouts.tcpEstablished = .seconds(100)
    timeouts.tcpClosing = .seconds(5)
    var nat = NATWorld(timeouts: timeouts)
    let forward = try nat.flow(try NATWorld.outbound(port: 2000, flags: .syn), at: 1)
    let port = try #require(NATWorld.translatedPort(forward))
    let reply = try nat.flow(try NATWorld.inbound(port: port, flags: [.syn, .ack]), at: 1.1)
    #expect(reply.actions.contains(.setIPv4Destination(IPv4Address(10, 0, 1, 5))))
    // Only the reply flow runs for a while: the binding stays.
    #expect(nat.world.core.sweepFlowState(usedTags: reply.tags, now: nat.world.at(90)).isEmpty)
    #expect(nat.world.core.sweepFlowState(usedTags: reply.tags, now: nat.world.at(180)).isEmpty)
    #expect(nat.world.core.flowState.natCount == 1)
    // The client closes: its FIN is a miss of its own, and the entry is closing.
    _ = try nat.flow(try NATWorld.outbound(port: 2000, flags: [.fin, .ack]), at: 181)
    let entry = try #require(nat.world.core.flowState.entries.values.first)
    #expect(entry.closing)
    #expect(nat.world.core.sweepFlowState(usedTags: [], now: nat.world.at(185)).isEmpty)
    let sweep = nat.world.core.sweepFlowState(usedTags: [], now: nat.world.at(186.5))
    #expect(sweep.counts == [.flowStateExpired(1)])
    #expect(nat.world.core.view.nat.isEmpty)
    // A SYN reuses the tuple as a new connection.
    _ = try nat.flow(try NATWorld.outbound(port: 2000, flags: .syn), at: 187)
    #expect(nat.world.core.flowState.entries.values.first?.closing == false)
  }

  @Test("a RST closes a connection too, from either side")
  func reset() throws {
    var nat = NATWorld()
    let forward = try nat.flow(try NATWorld.outbound(port: 2100, flags: .syn), at: 1)
    let port = try #require(NATWorld.translatedPort(forward))
    _ = nat.world.core.miss(
      try NATWorld.inbound(port: port, flags: [.rst, .ack]).0,
      frame: try NATWorld.inbound(port: port, flags: [.rst, .ack]).1, now: nat.world.at(2))
    #expect(nat.world.core.flowState.entries.values.first?.closing == true)
  }

  @Test("entries from a peer expire unless a flow uses them or the owner refreshes them")
  func peerEntries() throws {
    var timeouts = FlowStateTimeouts()
    timeouts.udp = .seconds(10)
    var world = CoreWorld()
    world.core.flowState.timeouts = timeouts
    let tuple = FlowTuple(
      source: IPv4Address(10, 0, 2, 7), destination: IPv4Address(10, 0, 1, 5),
      ipProtocol: IPProtocol.udp.rawValue, sourcePort: 53, destinationPort: 40_000)
    let key = ConntrackKey(tuple: tuple, device: W.router)
    world.core.applyFlowState([.conntrack(key)], now: world.at(0))
    #expect(world.core.view.conntrack.contains(key))
    #expect(world.core.flowState.entries[.conntrack(key)]?.origin == .peer)
    // The owner refreshes it at 8 s: it lives to 18 s.
    world.core.applyFlowState([.conntrack(key)], now: world.at(8))
    #expect(world.core.sweepFlowState(usedTags: [], now: world.at(17)).isEmpty)
    let sweep = world.core.sweepFlowState(usedTags: [], now: world.at(18.5))
    #expect(sweep.counts == [.flowStateExpired(1)])
    #expect(sweep.copies.isEmpty, "a peer's entry is never sent on")
    #expect(!world.core.view.conntrack.contains(key))
  }

  /// vm-there: a port served by the other host (its replies are simulated there).
  static let remotePort = ID(name: "vm-there")

  /// CoreWorld with `timeouts` and vm-there active on the other host.
  static func withRemotePort(_ timeouts: FlowStateTimeouts) -> CoreWorld {
    var world = CoreWorld()
    world.core.flowState.timeouts = timeouts
    world.upsert(
      Port(
        id: remotePort, device: .bridge(W.bridge), tunnelKey: 9, hostId: W.there,
        interfaceName: "9"))
    _ = world.core.setActivation(remotePort, PortActivation(host: W.there, tunnelKey: 9))
    return world
  }

  @Test("a live local entry is sent again to the hosts that may need it, at half its timeout")
  func refresh() throws {
    var timeouts = FlowStateTimeouts()
    timeouts.udp = .seconds(20)
    var world = Self.withRemotePort(timeouts)
    let remotePort = Self.remotePort
    let tuple = FlowTuple(
      source: IPv4Address(10, 0, 0, 9), destination: IPv4Address(10, 0, 0, 1),
      ipProtocol: IPProtocol.udp.rawValue, sourcePort: 53, destinationPort: 40_000)
    let key = ConntrackKey(tuple: tuple, device: W.bridge)
    // As the log of vm1 restores it: local, with the ports it crossed.
    world.core.applyFlowState([.conntrack(key)], port: W.vm1, now: world.at(0))
    world.core.flowState.used(
      [.conntrack(key)], tcpFlags: nil, now: world.at(1), ports: { [W.vm1, remotePort] })
    let tag = FlowTagHasher.hash(FlowTag.conntrack(key))
    #expect(world.core.sweepFlowState(usedTags: [tag], now: world.at(5)).copies.isEmpty)
    let sweep = world.core.sweepFlowState(usedTags: [tag], now: world.at(10))
    let copy = try #require(sweep.copies.first)
    #expect(copy.changes == [.conntrack(key)])
    #expect(Array(copy.recipients.keys) == [W.there])
    #expect(copy.before == nil && copy.logPorts.isEmpty)
    #expect(sweep.counts == [.flowStateRefreshed(1)])
    // Not used since: no second refresh, and at the timeout it goes.
    #expect(world.core.sweepFlowState(usedTags: [], now: world.at(21)).copies.isEmpty)
    #expect(
      world.core.sweepFlowState(usedTags: [], now: world.at(31)).counts == [.flowStateExpired(1)])
  }

  @Test("a connection that closes tells its peers, whose copies then go at the closing timeout")
  func closingToldToPeers() throws {
    var timeouts = FlowStateTimeouts()
    timeouts.tcpEstablished = .seconds(100)
    timeouts.tcpClosing = .seconds(5)
    var world = Self.withRemotePort(timeouts)
    let remotePort = Self.remotePort
    let tuple = FlowTuple(
      source: IPv4Address(10, 0, 0, 1), destination: IPv4Address(10, 0, 0, 9),
      ipProtocol: IPProtocol.tcp.rawValue, sourcePort: 40_000, destinationPort: 80)
    let key = ConntrackKey(tuple: tuple, device: W.bridge)
    world.core.applyFlowState([.conntrack(key)], port: W.vm1, now: world.at(0))
    world.core.flowState.used(
      [.conntrack(key)], tcpFlags: [.fin, .ack], now: world.at(1), ports: { [W.vm1, remotePort] })
    let sweep = world.core.sweepFlowState(usedTags: [], now: world.at(2))
    let notice = try #require(sweep.copies.first)
    #expect(notice.closing == [.conntrack(key)] && notice.changes.isEmpty)
    #expect(Array(notice.recipients.keys) == [W.there])
    #expect(world.core.sweepFlowState(usedTags: [], now: world.at(3)).copies.isEmpty, "told once")

    // The peer: its copy, then the notice; it goes 5 s later, not 100.
    var peer = CoreWorld()
    peer.core.flowState.timeouts = timeouts
    peer.core.applyFlowState([.conntrack(key)], now: peer.at(0))
    peer.core.applyFlowState([], closing: notice.closing, now: peer.at(2))
    #expect(peer.core.flowState.entries[.conntrack(key)]?.closing == true)
    #expect(
      peer.core.sweepFlowState(usedTags: [], now: peer.at(6)).counts == [.flowStateExpired(1)])
  }

  @Test("after a burst expires, the tables give their memory back")
  func compaction() throws {
    var timeouts = FlowStateTimeouts()
    timeouts.udp = .seconds(1)
    var world = CoreWorld()
    world.core.flowState.timeouts = timeouts
    var changes: [StateChange] = []
    for index in 0..<20_000 {
      let tuple = FlowTuple(
        source: IPv4Address(rawValue: 0x0A00_0000 | UInt32(index)),
        destination: IPv4Address(10, 0, 1, 5), ipProtocol: IPProtocol.udp.rawValue,
        sourcePort: 53, destinationPort: 40_000)
      changes.append(.conntrack(ConntrackKey(tuple: tuple, device: W.router)))
    }
    world.core.applyFlowState(changes, now: world.at(0))
    let full = world.core.view.conntrack.capacity
    #expect(full >= 20_000)
    _ = world.core.sweepFlowState(usedTags: [], now: world.at(2))
    #expect(world.core.view.conntrack.isEmpty)
    #expect(world.core.view.conntrack.capacity < full / 4)
    #expect(world.core.flowState.entries.capacity < full / 4)
  }

  @Test("a packet that waits for ARP keeps no NAT state; the binding is made and sent when it goes")
  func waitingPacketKeepsNoState() throws {
    var nat = NATWorld()
    // 10.0.2.8 is not in the router's ARP table: the first packet waits.
    let packet = try NATWorld.segment(
      in: 3, from: CoreWorld.vm1MAC, to: CoreWorld.leftMAC, "10.0.1.5", 3000, "10.0.2.8", 80,
      .syn)
    let first = nat.world.core.miss(packet.0, frame: packet.1, now: nat.world.at(1))
    #expect(first.installs.isEmpty)
    #expect(nat.world.core.view.nat.isEmpty, "a waiting packet made a binding")
    #expect(first.copies.isEmpty)
    let reply = try CoreWorld.arpReply(
      port: 4, from: CoreWorld.remoteMAC, "10.0.2.8", to: CoreWorld.rightMAC, "10.0.2.1")
    let resumed = nat.world.core.miss(reply.0, frame: reply.1, now: nat.world.at(1.1))
    #expect(resumed.installs.contains { $0.match == packet.0 })
    let copy = try #require(resumed.copies.first, "the binding was not sent on")
    #expect(copy.changes.contains { if case .natBinding = $0 { true } else { false } })
    #expect(nat.world.core.flowState.natCount == 1)
  }

  @Test("a port bound to another host hands its connections' state over when it leaves")
  func handOver() throws {
    var world = CoreWorld()
    let tuple = FlowTuple(
      source: IPv4Address(10, 0, 2, 7), destination: IPv4Address(10, 0, 1, 5),
      ipProtocol: IPProtocol.tcp.rawValue, sourcePort: 80, destinationPort: 40_000)
    let mine = ConntrackKey(tuple: tuple, device: W.router)
    var other = tuple
    other.destinationPort = 40_001
    let unrelated = ConntrackKey(tuple: other, device: W.router)
    world.core.applyFlowState([.conntrack(mine)], port: W.vm1, now: world.at(0))
    world.core.applyFlowState([.conntrack(unrelated)], port: W.vm2, now: world.at(0))
    // Detached while still bound here: nothing to hand over.
    #expect(world.core.detach(W.vm2).copies.isEmpty)
    // vm1 is now bound to the other host, then leaves here.
    var moved = world.vmPort(W.vm1, key: 1)
    moved.hostId = W.there
    world.upsert(moved)
    let copy = try #require(world.core.detach(W.vm1).copies.first)
    #expect(copy.changes == [.conntrack(mine)])
    #expect(Array(copy.recipients.keys) == [W.there])
    #expect(copy.handOver == W.vm1, "the last message marks the hand-over complete")
  }

  @Test("a port that moved here holds its packets until the hand-over arrives, or half a second")
  func holdUntilHandOver() throws {
    var world = CoreWorld()
    // vm1 was bound to the other host, and now to this one.
    moveHere(&world, W.vm1, key: 1, at: 1)
    let (match, frame) = try W.udp(
      port: 1, from: W.vm1MAC, to: W.vm2MAC, "10.0.0.1", "10.0.0.2")
    let held = world.core.miss(match, frame: frame, now: world.at(1.1))
    #expect(held.installs.isEmpty && held.completions.isEmpty && held.sends.isEmpty)
    #expect(world.core.pending.map(\.reason) == [.handOver(W.vm1)])
    let released = world.core.handOverArrived(W.vm1, now: world.at(1.2))
    #expect(released.installs.map(\.match) == [match] || !released.sends.isEmpty)
    #expect(world.core.pending.isEmpty)
    // Later packets go at once.
    #expect(world.core.awaitingHandOver.isEmpty)

    // Without a hand-over, the wait ends after half a second.
    moveHere(&world, W.vm2, key: 2, at: 2)
    let (other, otherFrame) = try W.udp(
      port: 2, from: W.vm2MAC, to: W.vm1MAC, "10.0.0.2", "10.0.0.1")
    _ = world.core.miss(other, frame: otherFrame, now: world.at(2.1))
    #expect(world.core.expirePending(now: world.at(2.3)).isEmpty)
    let late = world.core.expirePending(now: world.at(2.6))
    #expect(!late.installs.isEmpty || !late.sends.isEmpty, "the held packet never went")
    #expect(world.core.pending.isEmpty)
    // A port attached fresh (never bound elsewhere) does not wait.
    _ = world.core.detach(W.vm2)
    _ = world.core.attach(W.vm2, number: 2, now: world.at(3))
    #expect(world.core.awaitingHandOver.isEmpty)
  }

  /// Makes `port` one that was bound to the other host and is now bound here, and
  /// attaches it at `seconds`.
  func moveHere(_ world: inout CoreWorld, _ port: ID, key: UInt32, at seconds: Double) {
    _ = world.core.detach(port)
    var elsewhere = world.vmPort(port, key: key)
    elsewhere.hostId = W.there
    world.upsert(elsewhere)
    world.upsert(world.vmPort(port, key: key))
    _ = world.core.attach(port, number: key, now: world.at(seconds))
  }
}
