import Addresses
import AgentCore
import Datapath
import Packets
import Simulation
import Testing
import Topology

typealias W = CoreWorld

@Suite("AgentCore: misses become flows, parked packets and learned state")
struct AgentCoreMissTests {
  @Test("a miss floods, learns the source MAC on its own port and writes it; the reply is switched")
  func bridgeLearnsAndSwitches() throws {
    var world = CoreWorld()
    let (match, frame) = try W.udp(port: 1, from: W.vm1MAC, to: W.vm2MAC, "10.0.0.1", "10.0.0.2")
    let first = world.core.miss(match, frame: frame, now: world.at(0.1))
    let flow = try #require(first.installs.first)
    #expect(flow.match == match)
    #expect(flow.actions == [.output(port: 2)])
    #expect(flow.idleTimeout == .seconds(30))
    #expect(first.macWrites.map(\.1) == [W.vm1MAC])
    #expect(first.macWrites.map(\.2) == [W.vm1])
    #expect(!first.invalidated.isEmpty)
    #expect(world.core.learnedMACs.keys.map(\.mac) == [W.vm1MAC])
    #expect(first.counts.contains(.simulation))

    let (back, backFrame) = try W.udp(
      port: 2, from: W.vm2MAC, to: W.vm1MAC, "10.0.0.2", "10.0.0.1")
    let second = world.core.miss(back, frame: backFrame, now: world.at(0.2))
    #expect(second.installs.first?.actions == [.output(port: 1)])
  }

  @Test("a miss from a datapath port no longer attached is released with no actions")
  func unknownIngress() throws {
    var world = CoreWorld()
    let (match, frame) = try W.udp(port: 99, from: W.vm1MAC, to: W.vm2MAC, "10.0.0.1", "10.0.0.2")
    let out = world.core.miss(match, frame: frame, now: world.at(0.1))
    #expect(out.count == 1)
    #expect(out.completions.first?.0 == match)
    #expect(out.completions.first?.1 == [])
  }

  @Test("a routed packet waits for ARP; the reply that arrives resumes it into a flow")
  func arpResumeFromReply() throws {
    var world = CoreWorld()
    let (match, frame) = try W.udp(
      port: 3, from: W.vm1MAC, to: W.leftMAC, "10.0.1.5", "10.0.2.7")
    let first = world.core.miss(match, frame: frame, now: world.at(0.1))
    #expect(first.installs.isEmpty)
    #expect(first.completions.isEmpty)
    let request = try #require(first.sends.first)
    #expect(request.1 == [.output(port: 4)])
    let arp = try #require(try PacketParser.parse(request.0).arp)
    #expect(arp.targetProtocolAddress == IPv4Address(10, 0, 2, 7))
    #expect(world.core.pending.count == 1)

    let (reply, replyFrame) = try W.arpReply(
      port: 4, from: W.remoteMAC, "10.0.2.7", to: W.rightMAC, "10.0.2.1")
    let second = world.core.miss(reply, frame: replyFrame, now: world.at(0.2))
    #expect(second.arpWrites.map(\.1) == [IPv4Address(10, 0, 2, 7)])
    #expect(second.arpWrites.map(\.2) == [W.remoteMAC])
    let resumed = try #require(second.installs.first { $0.match == match })
    #expect(resumed.actions.contains(.setEthernetDestination(W.remoteMAC)))
    #expect(resumed.actions.last == .output(port: 4))
    #expect(world.core.pending.isEmpty)
  }

  @Test("a replicated ARP entry resumes the packets that wait for it, once")
  func arpResumeFromTable() throws {
    var world = CoreWorld()
    let (match, frame) = try W.udp(
      port: 3, from: W.vm1MAC, to: W.leftMAC, "10.0.1.5", "10.0.2.7")
    _ = world.core.miss(match, frame: frame, now: world.at(0.1))
    let table = [IPv4Address(10, 0, 2, 7): W.remoteMAC]
    let out = world.core.applyARPTable(W.router, table, now: world.at(0.2))
    #expect(out.installs.map(\.match) == [match])
    #expect(!out.invalidated.isEmpty)
    #expect(world.core.pending.isEmpty)
    #expect(world.core.applyARPTable(W.router, table, now: world.at(0.3)).isEmpty)
  }

  @Test("a packet waiting for ARP is retried once after a second, and dropped at the timeout")
  func pendingExpiry() throws {
    var world = CoreWorld(pendingTimeout: .seconds(5))
    let (match, frame) = try W.udp(
      port: 3, from: W.vm1MAC, to: W.leftMAC, "10.0.1.5", "10.0.2.7")
    _ = world.core.miss(match, frame: frame, now: world.at(0))
    #expect(world.core.expirePending(now: world.at(0.5)).isEmpty)
    let retry = world.core.expirePending(now: world.at(1.5))
    #expect(retry.sends.count == 1)  // the ARP request, again
    #expect(retry.installs.isEmpty)
    #expect(world.core.pending.count == 1)
    #expect(world.core.pending.first?.retried == true)
    #expect(world.core.expirePending(now: world.at(3)).sends.isEmpty)
    let drop = world.core.expirePending(now: world.at(6))
    #expect(drop.completions.map(\.0) == [match])
    #expect(drop.completions.first?.1 == [])
    #expect(drop.counts == [.pendingDropped])
    #expect(world.core.pending.isEmpty)
  }

  @Test("a packet that needs an object not loaded asks for it and goes once it arrives")
  func notYetThenLoaded() throws {
    var world = CoreWorld()
    let chain = ID(name: "filter")
    world.upsert(Bridge(id: W.bridge, name: "bridge", inboundFilterId: chain))
    let (match, frame) = try W.udp(port: 1, from: W.vm1MAC, to: W.vm2MAC, "10.0.0.1", "10.0.0.2")
    let first = world.core.miss(match, frame: frame, now: world.at(0.1))
    #expect(first.loads.map(\.id) == [chain])
    #expect(world.core.pending.count == 1)
    #expect(world.core.retryPendingTopology(now: world.at(0.15)).installs.isEmpty)
    #expect(world.core.pending.count == 1)

    world.upsert(Chain(id: chain, name: "filter"))
    let out = world.core.retryPendingTopology(now: world.at(0.2))
    #expect(out.installs.map(\.match) == [match])
    #expect(world.core.pending.isEmpty)
  }
}

@Suite("AgentCore: replicated tables, activity, retention and replication")
struct AgentCoreStateTests {
  @Test("a MAC table change invalidates what it changes; an equal table changes nothing")
  func macTableDiff() throws {
    var world = CoreWorld()
    let other = MACAddress(2, 0, 0, 0, 0, 0x77)
    let out = world.core.applyMACTable(W.bridge, [other: W.vm2])
    #expect(out.invalidated.count == 1)
    #expect(world.core.view.macTable[MACTableKey(bridge: W.bridge, vlan: 0, mac: other)] == W.vm2)
    #expect(world.core.applyMACTable(W.bridge, [other: W.vm2]).isEmpty)

    // A MAC this host learned stays in the view until the NSDB echoes it.
    let (match, frame) = try W.udp(port: 1, from: W.vm1MAC, to: W.vm2MAC, "10.0.0.1", "10.0.0.2")
    _ = world.core.miss(match, frame: frame, now: world.at(0.1))
    _ = world.core.applyMACTable(W.bridge, [:])
    #expect(
      world.core.view.macTable[MACTableKey(bridge: W.bridge, vlan: 0, mac: W.vm1MAC)] == W.vm1)
    #expect(world.core.view.macTable[MACTableKey(bridge: W.bridge, vlan: 0, mac: other)] == nil)
  }

  @Test("a remote port is reachable only while its host is alive")
  func activityFollowsLiveness() {
    var world = CoreWorld()
    let remote = ID(name: "vm3")
    world.upsert(
      Port(
        id: remote, device: .bridge(W.bridge), tunnelKey: 7, hostId: W.there, interfaceName: "x"))
    let active = PortActivation(host: W.there, tunnelKey: 7)
    #expect(!world.core.setActivation(remote, active).invalidated.isEmpty)
    #expect(world.core.view.activePorts[remote] == active)
    #expect(world.core.setActivation(remote, active).isEmpty)
    #expect(!world.core.setAlive(W.there, false).invalidated.isEmpty)
    #expect(world.core.view.activePorts[remote] == nil)
    _ = world.core.setAlive(W.there, true)
    #expect(world.core.view.activePorts[remote] == active)
  }

  @Test("a learned MAC lives while a flow uses it and is withdrawn a retention after")
  func macRetention() throws {
    var world = CoreWorld()
    let (match, frame) = try W.udp(port: 1, from: W.vm1MAC, to: W.vm2MAC, "10.0.0.1", "10.0.0.2")
    _ = world.core.miss(match, frame: frame, now: world.at(0))
    let retention = Duration.seconds(10)
    #expect(
      world.core.sweepLearnedMACs(flows: [match], retention: retention, now: world.at(5)).isEmpty)
    #expect(world.core.sweepLearnedMACs(flows: [], retention: retention, now: world.at(12)).isEmpty)
    let out = world.core.sweepLearnedMACs(flows: [], retention: retention, now: world.at(16))
    #expect(out.macForgets.map(\.1) == [W.vm1MAC])
    #expect(!out.invalidated.isEmpty)
    #expect(world.core.learnedMACs.isEmpty)
    #expect(world.core.view.macTable[MACTableKey(bridge: W.bridge, vlan: 0, mac: W.vm1MAC)] == nil)
  }

  @Test("detaching a port withdraws its MACs and its flows; its packets are no longer simulated")
  func detach() throws {
    var world = CoreWorld()
    let (match, frame) = try W.udp(port: 1, from: W.vm1MAC, to: W.vm2MAC, "10.0.0.1", "10.0.0.2")
    _ = world.core.miss(match, frame: frame, now: world.at(0))
    let out = world.core.detach(W.vm1)
    #expect(out.macForgets.map(\.1) == [W.vm1MAC])
    #expect(out.invalidated.contains(FlowTagHasher.hash(.port(W.vm1))))
    #expect(world.core.view.activePorts[W.vm1] == nil)
    #expect(world.core.miss(match, frame: frame, now: world.at(1)).completions.count == 1)
  }

  @Test("flow state goes to the local ports' logs and to the other candidates of its ports")
  func replicationRecipients() throws {
    var world = CoreWorld()
    let chain = ID(name: "track")
    let rule = ID(name: "track-0")
    world.upsert(
      Rule(id: rule, chainId: chain, condition: Condition(matchForwardFlow: true), action: .accept))
    world.upsert(Chain(id: chain, name: "track", ruleIds: [rule]))
    world.upsert(Bridge(id: W.bridge, name: "bridge", inboundFilterId: chain))
    var vm2 = world.vmPort(W.vm2, key: 2)
    vm2.candidates = [PortCandidate(hostId: W.there, interfaceName: "vm2")]
    world.upsert(vm2)
    let (match, frame) = try W.udp(port: 1, from: W.vm1MAC, to: W.vm2MAC, "10.0.0.1", "10.0.0.2")
    let out = world.core.miss(match, frame: frame, now: world.at(0.1))
    let copy = try #require(out.copies.first)
    #expect(!copy.changes.isEmpty)
    #expect(copy.changes.allSatisfy { if case .conntrack = $0 { true } else { false } })
    #expect(copy.logPorts == [W.vm1, W.vm2])
    #expect(copy.recipients == [W.there: W.thereEndpoint])
    #expect(copy.before == 1)
    // The copies are decided before the flow, so they leave ahead of its packets.
    let copyIndex = try #require(out.firstIndex { if case .replicate = $0 { true } else { false } })
    let installIndex = try #require(
      out.firstIndex { if case .install = $0 { true } else { false } })
    #expect(copyIndex < installIndex)
  }
}
