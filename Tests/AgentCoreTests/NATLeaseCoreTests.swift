import Addresses
import AgentCore
import Datapath
import Packets
import Simulation
import Testing
import Topology

extension [AgentDirective] {
  var leaseRequests: [([NatTarget], [NATBlock])] {
    compactMap {
      if case .leaseNAT(let targets, let held) = $0 { return (targets, held) }
      return nil
    }
  }
  var releases: [NATBlock] {
    compactMap { if case .releaseNAT(let block) = $0 { return block } else { return nil } }
  }
}

@Suite("AgentCore: source NAT from leased port blocks")
struct NATLeaseCoreTests {
  static let masquerade = IPv4Address(10, 0, 2, 1)

  /// CoreWorld's router source-NATs 10.0.1.0/24 out of its right port as 10.0.2.1, ports
  /// 30000-30199 (blocks 468-471), with leasing on.
  func world() -> CoreWorld {
    var world = CoreWorld()
    let post = ID(name: "post")
    let pre = ID(name: "pre")
    world.upsert(Chain(id: post, name: "post", ruleIds: [ID(name: "snat")]))
    world.upsert(
      Rule(
        id: ID(name: "snat"), chainId: post,
        condition: Condition(outPortIds: [CoreWorld.right]),
        action: .snat(targets: [
          NatTarget(
            addressFrom: Self.masquerade, addressTo: Self.masquerade, portFrom: 30_000,
            portTo: 30_199)
        ])))
    world.upsert(Chain(id: pre, name: "pre", ruleIds: [ID(name: "unsnat")]))
    world.upsert(Rule(id: ID(name: "unsnat"), chainId: pre, action: .reverseSNAT))
    world.upsert(
      Router(
        id: CoreWorld.router, name: "router", inboundFilterId: pre, outboundFilterId: post))
    _ = world.core.applyARPTable(
      CoreWorld.router, [IPv4Address(10, 0, 2, 7): CoreWorld.remoteMAC], now: world.at(0))
    world.core.enableNATLeasing()
    return world
  }

  func udp(_ sourcePort: UInt16) throws -> (FlowMatch, [UInt8]) {
    let frame = try PacketBuilder.udp(
      ethernet: EthernetHeader(destination: CoreWorld.leftMAC, source: CoreWorld.vm1MAC),
      ipv4: IPv4Header(source: IPv4Address(10, 0, 1, 5), destination: IPv4Address(10, 0, 2, 7)),
      sourcePort: sourcePort, destinationPort: 53, payload: [1])
    return (try FlowMatch(frame: frame, ingressPort: 3), frame)
  }

  func translatedPort(_ entry: FlowEntry) -> UInt16? {
    for case .setTransportSource(let port) in entry.actions { return port }
    return nil
  }

  @Test("the first packet waits for a lease and goes with a port of the leased block")
  func waitsForLease() throws {
    var world = world()
    let packet = try udp(40_000)
    let first = world.core.miss(packet.0, frame: packet.1, now: world.at(1))
    #expect(first.installs.isEmpty && first.completions.isEmpty, "it must wait, not drop")
    let request = try #require(first.leaseRequests.first)
    #expect(request.0.map(\.portFrom) == [30_000] && request.1.isEmpty)
    #expect(world.core.pending.map(\.reason) == [.natLease])
    // A second packet meanwhile waits too, without a second request.
    let other = try udp(40_001)
    #expect(world.core.miss(other.0, frame: other.1, now: world.at(1.1)).leaseRequests.isEmpty)

    let block = NATBlock(address: Self.masquerade, index: 470)  // ports 30080-30143
    let resumed = world.core.natLeased(block, now: world.at(1.2))
    #expect(resumed.installs.count == 2)
    for entry in resumed.installs {
      let port = try #require(translatedPort(entry))
      #expect(block.ports.contains(port), "port \(port) outside the leased block")
    }
    #expect(world.core.pending.isEmpty)
    #expect(world.core.view.natLeases?[Self.masquerade] == [470])
  }

  @Test("a refused lease drops the waiting packets and holds off for a second")
  func refused() throws {
    var world = world()
    let packet = try udp(40_000)
    _ = world.core.miss(packet.0, frame: packet.1, now: world.at(1))
    let refused = world.core.natLeased(nil, now: world.at(1.1))
    #expect(refused.completions.map(\.0) == [packet.0])
    #expect(refused.counts == [.drop("nat_exhausted")])
    // Within the back-off: dropped at once with a short-lived drop flow, no request.
    let again = world.core.miss(packet.0, frame: packet.1, now: world.at(1.5))
    #expect(again.leaseRequests.isEmpty)
    #expect(again.installs.first?.hardTimeout == .seconds(1))
    // After it: asked again.
    #expect(world.core.miss(packet.0, frame: packet.1, now: world.at(2.2)).leaseRequests.count == 1)
  }

  @Test("three quarters full asks for another block ahead; blocks no binding uses are given back")
  func lowWaterAndRelease() throws {
    var world = world()
    var timeouts = FlowStateTimeouts()
    timeouts.udp = .seconds(10)
    world.core.flowState.timeouts = timeouts
    let first = try udp(40_000)
    _ = world.core.miss(first.0, frame: first.1, now: world.at(1))
    _ = world.core.natLeased(NATBlock(address: Self.masquerade, index: 469), now: world.at(1))
    // 64 ports in the block: the 48th binding fills three quarters and asks for another.
    var requests = 0
    for index in 1..<49 {
      let packet = try udp(40_000 + UInt16(index))
      requests += world.core.miss(packet.0, frame: packet.1, now: world.at(2)).leaseRequests.count
    }
    #expect(requests == 1, "\(requests) requests for 49 bindings in one block")
    #expect(world.core.flowState.natCount == 49)
    _ = world.core.natLeased(NATBlock(address: Self.masquerade, index: 470), now: world.at(2))
    #expect(world.core.view.natLeases?[Self.masquerade] == [469, 470])
    // Bindings live: the used block stays, the unused one is given back at the sweep.
    let early = world.core.sweepFlowState(usedTags: [], now: world.at(5))
    #expect(early.releases == [NATBlock(address: Self.masquerade, index: 470)])
    #expect(world.core.view.natLeases?[Self.masquerade] == [469])
    // Everything idles out: the used block goes too.
    let sweep = world.core.sweepFlowState(usedTags: [], now: world.at(13))
    #expect(sweep.releases == [NATBlock(address: Self.masquerade, index: 469)])
    #expect(world.core.view.natLeases?[Self.masquerade] == nil)
  }
}

extension NATLeaseCoreTests {
  @Test("with blocks to spare, new bindings find a free port without asking for more")
  func spareBlocksSuffice() throws {
    var world = world()
    let first = try udp(40_000)
    _ = world.core.miss(first.0, frame: first.1, now: world.at(1))
    _ = world.core.natLeased(NATBlock(address: Self.masquerade, index: 469), now: world.at(1))
    for index in 470...471 {
      _ = world.core.natLeased(
        NATBlock(address: Self.masquerade, index: UInt16(index)), now: world.at(1))
    }
    var requests = 0
    for index in 1..<96 {
      let packet = try udp(41_000 + UInt16(index))
      let out = world.core.miss(packet.0, frame: packet.1, now: world.at(2))
      requests += out.leaseRequests.count
      #expect(!out.installs.isEmpty, "binding \(index) waits")
    }
    #expect(requests == 0, "\(requests) requests with \(3 * 64) ports for 96 bindings")
  }
}
