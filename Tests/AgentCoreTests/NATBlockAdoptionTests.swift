import Addresses
import AgentCore
import Datapath
import Simulation
import Testing
import Topology

extension [AgentDirective] {
  var adoptions: [NATBlock] {
    flatMap { directive -> [NATBlock] in
      if case .adoptNAT(let blocks) = directive { return blocks }
      return []
    }
  }
}

/// Bindings a host has without having made them — restored from its log after a restart,
/// handed over with a port that moved to it — keep their block leased by someone who
/// knows them, so no other host hands out the same ports.
@Suite("AgentCore: NAT blocks of bindings this host did not make")
struct NATBlockAdoptionTests {
  let leasing = NATLeaseCoreTests()
  static let block = NATBlock(address: NATLeaseCoreTests.masquerade, index: 470)

  /// A binding made from block 470 by a host that leased it, and that host.
  func made() throws -> (world: CoreWorld, change: StateChange, binding: NATBinding) {
    var world = leasing.world()
    let packet = try leasing.udp(40_000)
    _ = world.core.miss(packet.0, frame: packet.1, now: world.at(1))
    _ = world.core.natLeased(Self.block, now: world.at(1))
    for entry in world.core.flowState.entries.values {
      if case .natBinding(let binding) = entry.change { return (world, entry.change, binding) }
    }
    throw TestFailure.noBinding
  }

  enum TestFailure: Error { case noBinding }

  @Test("a binding restored from the log leases its block again, or is told to its holder")
  func restored() throws {
    let (_, change, binding) = try made()
    var world = leasing.world()  // a restarted agent: its leases went with its session
    let out = world.core.applyFlowState([change], port: CoreWorld.left, now: world.at(1))
    #expect(out.adoptions == [Self.block])
    let again = world.core.applyFlowState([change], port: CoreWorld.left, now: world.at(1.1))
    #expect(again.adoptions.isEmpty, "one question at a time")

    var free = world
    #expect(free.core.natAdopted(Self.block, holder: CoreWorld.here).isEmpty)
    #expect(free.core.view.natLeases?[NATLeaseCoreTests.masquerade] == [470])
    #expect(free.core.natForeignBlocks.isEmpty)

    // Held by another host: it is sent the binding at once, and with every refresh.
    let told = world.core.natAdopted(Self.block, holder: CoreWorld.there)
    #expect(told.copies.map { Array($0.recipients.keys) } == [[CoreWorld.there]])
    #expect(told.copies.first?.changes.count == 1)
    let refresh = world.core.sweepFlowState(
      usedTags: [FlowTagHasher.hash(.nat(binding.forwardKey))], now: world.at(70))
    #expect(refresh.copies.contains { $0.recipients[CoreWorld.there] != nil })
    // Its holder dies and its leases with it: the block is asked for here.
    #expect(world.core.setAlive(CoreWorld.there, false).adoptions == [Self.block])
  }

  @Test("a holder keeps its block while a peer's copy of one of its bindings lives")
  func holderKeepsBlock() throws {
    let (_, change, _) = try made()
    var world = leasing.world()
    _ = world.core.natLeased(Self.block, now: world.at(0))
    _ = world.core.applyFlowState([change], now: world.at(1))  // the peer's copy
    #expect(world.core.sweepFlowState(usedTags: [], now: world.at(5)).releases.isEmpty)
    let late = world.core.sweepFlowState(usedTags: [], now: world.at(125))
    #expect(late.releases == [Self.block], "the copy idled out (UDP, 120 s)")
  }

  @Test("a lease lost to another session makes the block's bindings ask for it")
  func lost() throws {
    var (world, _, _) = try made()
    let out = world.core.natLost(Self.block)
    #expect(out.adoptions == [Self.block])
    #expect(world.core.view.natLeases?[NATLeaseCoreTests.masquerade] == nil)
  }

  @Test("a port's hand-over makes its entries the new host's, and leaves copies behind")
  func handOver() throws {
    var (world, change, _) = try made()
    var moved = world.routerPort(
      CoreWorld.left, key: 3, address: "10.0.1.1", subnet: "10.0.1.0/24",
      mac: CoreWorld.leftMAC)
    moved.hostId = CoreWorld.there
    world.upsert(moved)
    let out = world.core.detach(CoreWorld.left)
    let sent = out.copies.filter { !$0.changes.isEmpty }
    #expect(sent.map(\.owner) == [CoreWorld.left])
    #expect(sent.map { Array($0.recipients.keys) } == [[CoreWorld.there]])
    #expect(world.core.flowState.entries.values.allSatisfy { $0.origin == .peer })

    // The new host, port attached: its own at once, into the port's log, block asked for.
    var here = leasing.world()
    let received = here.core.applyFlowState([change], owner: CoreWorld.left, now: here.at(1))
    #expect(received.copies.map(\.logPorts) == [[CoreWorld.left]])
    #expect(received.adoptions == [Self.block])
    #expect(here.core.flowState.entries.values.allSatisfy { $0.origin == .local })

    // The new host, port not attached yet: copies until it is.
    var early = leasing.world()
    _ = early.core.detach(CoreWorld.left)
    _ = early.core.applyFlowState([change], owner: CoreWorld.left, now: early.at(1))
    #expect(early.core.flowState.entries.values.allSatisfy { $0.origin == .peer })
    let attached = early.core.attach(CoreWorld.left, number: 3)
    #expect(attached.copies.map(\.logPorts) == [[CoreWorld.left]])
    #expect(attached.adoptions == [Self.block])
    #expect(early.core.flowState.entries.values.allSatisfy { $0.origin == .local })
  }
}
