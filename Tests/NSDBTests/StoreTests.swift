import Addresses
import MidgeTestSupport
import Testing
import Topology
import ZooKeeper

@testable import NSDB

@Suite("NSDB store: CRUD, transactions, compression, corrupt data")
struct StoreTests {
  @Test("CRUD, getAll, typed errors")
  func crud() async throws {
    let f = try await NSDBFixture.make("crud")
    let store = f.store
    let ids = (0..<20).map { ID.named("b\($0)") }
    try await store.transaction { tx in
      for id in ids { try await tx.create(Bridge(id: id, name: "\(id)")) }
    }
    #expect(try await store.getAll(Bridge.self).map(\.id) == ids.sorted())
    var bridge = try await store.get(Bridge.self, ids[0])
    bridge.name = "renamed"
    try await store.update(bridge)
    #expect(try await store.get(Bridge.self, ids[0]).name == "renamed")
    do {
      try await store.create(bridge)
      Issue.record("a duplicate create succeeded")
    } catch let error as NSDBError {
      #expect(error.code == .alreadyExists)
    }
    do {
      _ = try await store.get(Router.self, ids[0])
      Issue.record("reading a missing object succeeded")
    } catch let error as NSDBError {
      #expect(error.code == .notFound)
    }
    try await store.delete(Bridge.self, ids[0])
    #expect(try await !store.exists(Bridge.self, ids[0]))
    await f.close()
  }

  @Test("a transaction that fails at its last operation leaves nothing behind")
  func atomicity() async throws {
    let f = try await NSDBFixture.make("atomic")
    let store = f.store
    // Another writer creates the last object of the transaction first.
    try await store.create(Router(id: .named("r"), name: "taken"))
    do {
      try await store.transaction { tx in
        try await tx.create(Bridge(id: .named("b"), name: "b"))
        try await tx.create(Port(id: .named("p"), device: .bridge(.named("b"))))
        try await tx.create(Router(id: .named("r"), name: "mine"))
      }
      Issue.record("the transaction was applied")
    } catch let error as NSDBError {
      #expect(error.code == .alreadyExists)
    }
    #expect(try await !store.exists(Bridge.self, .named("b")))
    #expect(try await !store.exists(Port.self, .named("p")))
    #expect(try await store.get(Router.self, .named("r")).name == "taken")

    // A commit-time conflict: the object changes between read and commit.
    let peer = try await f.peer("atomic-peer")
    var attempts = 0
    try await store.transaction { tx in
      attempts += 1
      var router = try await tx.require(Router.self, .named("r"))
      if attempts == 1 {
        var stale = try await peer.get(Router.self, .named("r"))
        stale.name = "changed by peer"
        try await peer.update(stale)
      }
      router.portIds = []
      router.name += "+mine"
      try await tx.update(router)
    }
    #expect(attempts == 2)
    #expect(try await store.get(Router.self, .named("r")).name == "changed by peer+mine")
    await peer.client.close()
    await f.close()
  }

  @Test("two writers racing on one object lose no update: each is applied or reported")
  func concurrentWriters() async throws {
    let f = try await NSDBFixture.make("race")
    let group = ID.named("group")
    try await f.store.create(IPAddrGroup(id: group, name: "g"))
    let other = try await f.peer("race-peer")
    let updates = 25
    // Each writer's outcome per update: applied, or a `.conflict` after the bounded
    // retries (on a loaded machine the other writer can win 8 times in a row).
    let outcomes = try await withThrowingTaskGroup(of: [IPv4Address: Bool].self) { tasks in
      for (index, store) in [f.store, other].enumerated() {
        tasks.addTask {
          var outcome: [IPv4Address: Bool] = [:]
          for n in 0..<updates {
            let address = IPv4Address(10, UInt8(index), 0, UInt8(n))
            do {
              try await store.transaction { tx in
                var value = try await tx.require(IPAddrGroup.self, group)
                value.addresses.append(address)
                try await tx.update(value)
              }
              outcome[address] = true
            } catch let error as NSDBError where error.code == .conflict {
              outcome[address] = false
            }
          }
          return outcome
        }
      }
      var all: [IPv4Address: Bool] = [:]
      for try await outcome in tasks { all.merge(outcome) { $1 } }
      return all
    }
    #expect(outcomes.count == 2 * updates, "every update was applied or reported")
    let applied = Set(outcomes.filter(\.value).map(\.key))
    let final = try await f.store.get(IPAddrGroup.self, group)
    #expect(Set(final.addresses) == applied, "exactly the applied updates are stored")
    #expect(final.addresses.count == applied.count, "none twice")
    #expect(applied.count >= updates, "most updates succeed (\(applied.count) of \(2 * updates))")
    await other.client.close()
    await f.close()
  }

  @Test("a chain with 5,000 rules round-trips (LZ4 above the threshold)")
  func largeChain() async throws {
    let f = try await NSDBFixture.make("large")
    let store = f.store
    let chain = ID.named("big")
    let rules = (0..<5000).map { ID.named("rule-\($0)") }
    try await store.create(Chain(id: chain, name: "big"))
    for batch in stride(from: 0, to: rules.count, by: 500) {
      try await store.transaction { tx in
        for rule in rules[batch..<min(batch + 500, rules.count)] {
          try await tx.create(
            Rule(
              id: rule, chainId: chain,
              condition: Condition(nwSrc: IPv4Prefix(IPv4Address(10, 0, 0, 0), length: 8)),
              action: .accept))
        }
      }
    }
    let stored = try await f.client.get(store.paths.object(.chain, chain))
    #expect(stored.data.starts(with: Array("MLZ4".utf8)))
    #expect(stored.data.count < 1 << 20)
    #expect(try await store.get(Chain.self, chain).ruleIds == rules)
    #expect(try await store.ids(Rule.self).count == 5000)
    await f.close()
  }

  @Test("corrupt bytes in a znode: a clear error for that object, the rest goes on")
  func corrupt() async throws {
    let f = try await NSDBFixture.make("corrupt")
    let store = f.store
    try await store.create(Bridge(id: .named("good"), name: "good"))
    let bad = ID.named("bad")
    try await f.client.create(store.paths.object(.bridge, bad), data: [0xFF, 0x00, 0x13, 0x37])
    do {
      _ = try await store.get(Bridge.self, bad)
      Issue.record("corrupt bytes decoded")
    } catch let error as NSDBError {
      #expect(error.code == .corrupt)
      #expect(error.message.contains("\(bad)"))
    }
    #expect(try await store.getAll(Bridge.self).map(\.id) == [.named("good")])

    let events = store.observeAll(Bridge.self).withDeadlines(
      "element of store.observeAll(Bridge.self)")
    var updated: [ID] = []
    var failed: [ID] = []
    for _ in 0..<5 {
      guard let event = try await events.next() else { break }
      switch event {
      case .updated(let bridge): updated.append(bridge.id)
      case .failed(let id, _): failed.append(id)
      case .deleted: break
      case .ready: break
      }
      if !updated.isEmpty && !failed.isEmpty { break }
    }
    #expect(updated == [.named("good")])
    #expect(failed == [bad])
    await f.close()
  }
}
