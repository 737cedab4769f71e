import MidgeTestSupport
import Testing
import Topology
import ZooKeeper

@testable import NSDB

@Suite("NSDB filter bindings: bridges, routers and ports ↔ the chains they use")
struct FilterBindingTests {
  @Test("using a chain as a filter records it on the chain; deleting the chain clears every filter")
  func chainDeleteClearsFilters() async throws {
    let f = try await NSDBFixture.make("bind-filter")
    let store = f.store
    let chain = ID.named("fc")
    try await store.create(Chain(id: chain, name: "c"))
    try await store.create(
      Bridge(id: .named("fb"), name: "b", inboundFilterId: chain, outboundFilterId: chain))
    try await store.create(
      Router(id: .named("fr"), name: "r", inboundFilterId: chain, forwardFilterId: chain))
    try await store.create(
      Port(id: .named("fp"), device: .bridge(.named("fb")), outboundFilterId: chain))
    let stored = try await store.get(Chain.self, chain)
    #expect(stored.bridgeInboundIds == [.named("fb")])
    #expect(stored.bridgeOutboundIds == [.named("fb")])
    #expect(stored.routerInboundIds == [.named("fr")])
    #expect(stored.routerForwardIds == [.named("fr")])
    #expect(stored.routerOutboundIds.isEmpty)
    #expect(stored.portOutboundIds == [.named("fp")])
    #expect(stored.isUsedAsFilter)

    try await store.delete(Chain.self, chain)
    let bridge = try await store.get(Bridge.self, .named("fb"))
    #expect(bridge.inboundFilterId == nil && bridge.outboundFilterId == nil)
    let router = try await store.get(Router.self, .named("fr"))
    #expect(router.inboundFilterId == nil && router.forwardFilterId == nil)
    #expect(try await store.get(Port.self, .named("fp")).outboundFilterId == nil)
    await f.close()
  }

  @Test(
    "deleting a device or port takes it off the chain; moving a filter moves the back-reference")
  func deviceDeleteAndMove() async throws {
    let f = try await NSDBFixture.make("bind-filter-move")
    let store = f.store
    let (a, b) = (ID.named("fa"), ID.named("fb2"))
    try await store.create(Chain(id: a, name: "a"))
    try await store.create(Chain(id: b, name: "b"))
    try await store.create(Bridge(id: .named("fbr"), name: "br"))
    try await store.create(
      Port(id: .named("fp1"), device: .bridge(.named("fbr")), inboundFilterId: a))
    try await store.create(
      Port(id: .named("fp2"), device: .bridge(.named("fbr")), inboundFilterId: a))
    #expect(try await store.get(Chain.self, a).portInboundIds == [.named("fp1"), .named("fp2")])

    var moved = try await store.get(Port.self, .named("fp1"))
    moved.inboundFilterId = b
    try await store.update(moved)
    #expect(try await store.get(Chain.self, a).portInboundIds == [.named("fp2")])
    #expect(try await store.get(Chain.self, b).portInboundIds == [.named("fp1")])

    try await store.delete(Port.self, .named("fp2"))
    #expect(try await store.get(Chain.self, a).portInboundIds.isEmpty)
    try await store.delete(Bridge.self, .named("fbr"))  // cascades to fp1
    #expect(try await store.get(Chain.self, b).portInboundIds.isEmpty)
    await f.close()
  }

  @Test("a filter naming a missing chain is a dangling reference and changes nothing")
  func danglingFilter() async throws {
    let f = try await NSDBFixture.make("bind-filter-dangling")
    let store = f.store
    do {
      try await store.create(
        Bridge(id: .named("fd"), name: "d", inboundFilterId: .named("nochain")))
      Issue.record("a bridge with a missing filter chain was created")
    } catch let error as NSDBError {
      #expect(error.code == .danglingReference)
    }
    #expect(try await !store.exists(Bridge.self, .named("fd")))
    await f.close()
  }

  @Test(
    "apply fills the back-references, re-applying changes nothing, a moved filter applies cleanly")
  func applyFilters() async throws {
    let f = try await NSDBFixture.make("bind-filter-apply")
    let store = f.store
    var topology = TopologySnapshot()
    let (a, b) = (ID.named("aa"), ID.named("ab"))
    topology.insert(Chain(id: a, name: "a"))
    topology.insert(Chain(id: b, name: "b"))
    topology.insert(Bridge(id: .named("abr"), name: "br", portIds: [.named("ap")]))
    topology.insert(Port(id: .named("ap"), device: .bridge(.named("abr")), inboundFilterId: a))
    try await store.apply(topology, prune: true)
    #expect(try await store.get(Chain.self, a).portInboundIds == [.named("ap")])
    #expect(try await store.apply(topology, prune: true).isEmpty)

    topology.ports[.named("ap")]!.inboundFilterId = b
    let plan = try await store.apply(topology, prune: true)
    #expect(!plan.isEmpty)
    #expect(try await store.get(Chain.self, a).portInboundIds.isEmpty)
    #expect(try await store.get(Chain.self, b).portInboundIds == [.named("ap")])
    #expect(try await store.get(Port.self, .named("ap")).inboundFilterId == b)
    #expect(try await store.apply(topology, prune: true).isEmpty)
    await f.close()
  }
}
