import MidgeTestSupport
import Testing
import Topology
import ZooKeeper

@testable import NSDB

@Suite("NSDB observation", .serialized)
struct ObserveTests {
  @Test("an observer sees create → updates → delete; subscribers share the watch")
  func lifecycle() async throws {
    let f = try await NSDBFixture.make("observe")
    let store = f.store
    let id = ID.named("b")
    try await store.create(Bridge(id: id, name: "v0"))
    let first = store.observe(Bridge.self, id).withDeadlines(
      "element of store.observe(Bridge.self, id)")
    let second = store.observe(Bridge.self, id).withDeadlines(
      "element of store.observe(Bridge.self, id)")
    guard case .value(let initial)? = try await first.next() else {
      Issue.record("no initial value")
      return
    }
    #expect(initial.name == "v0")
    #expect(store.observers.hubs.withLock { $0.count } == 1)

    let writer = try await f.peer("observe-writer")
    for n in 1...5 {
      var bridge = try await writer.get(Bridge.self, id)
      bridge.name = "v\(n)"
      try await writer.update(bridge)
    }
    var names: [String] = []
    while names.last != "v5" {
      guard case .value(let bridge)? = try await first.next() else { break }
      names.append(bridge.name)
      if names.count > 10 { break }
    }
    #expect(names.last == "v5")
    #expect(names == names.sorted())
    try await writer.delete(Bridge.self, id)
    var sawDelete = false
    for _ in 0..<10 {
      guard let update = try await second.next() else { break }
      if case .deleted = update {
        sawDelete = true
        break
      }
    }
    #expect(sawDelete)
    await writer.client.close()
    await f.close()
  }

  @Test("observeAll delivers the existing objects, then .ready, then changes")
  func observeAll() async throws {
    let f = try await NSDBFixture.make("observe-all")
    let store = f.store
    try await store.transaction { tx in
      for n in 0..<10 { try await tx.create(Bridge(id: .named("b\(n)"), name: "b\(n)")) }
    }
    let events = store.observeAll(Bridge.self).withDeadlines(
      "element of store.observeAll(Bridge.self)")
    var seen = Set<ID>()
    // Ten objects and .ready: a hundred events would be a runaway stream.
    for _ in 0..<100 {
      guard let event = try await events.next() else { break }
      if case .updated(let bridge) = event { seen.insert(bridge.id) }
      if case .ready = event { break }
    }
    #expect(seen.count == 10)
    try await store.create(Bridge(id: .named("new"), name: "new"))
    try await store.delete(Bridge.self, .named("b3"))
    var created = false
    var deleted = false
    for _ in 0..<10 where !(created && deleted) {
      switch try await events.next() {
      case .updated(let bridge)? where bridge.id == .named("new"): created = true
      case .deleted(let id)? where id == .named("b3"): deleted = true
      default: break
      }
    }
    #expect(created && deleted)
    await f.close()
  }

  @Test("observers recover after a ZooKeeper restart and after session expiry")
  func recovery() async throws {
    try await ZooKeeperServer.with { server in
      let client = try await server.client(sessionTimeout: .seconds(6), label: "observer")
      let store = NSDBStore(client: client, root: "/midge", logger: ZooKeeperServer.logger("o"))
      try await store.setUp()
      let id = ID.named("b")
      try await store.create(Bridge(id: id, name: "before"))
      let updates = store.observe(Bridge.self, id).withDeadlines(
        "element of store.observe(Bridge.self, id)")
      _ = try await updates.next()

      try await server.kill(member: 1)
      try await server.restart(member: 1)
      let writer = try await server.client(label: "writer")
      let writerStore = NSDBStore(client: writer, root: "/midge")
      var bridge = try await writerStore.get(Bridge.self, id)
      bridge.name = "after-restart"
      try await writerStore.update(bridge)
      var name = ""
      for _ in 0..<5 where name != "after-restart" {
        if case .value(let value)? = try await updates.next(within: WaitBudget.recovery) {
          name = value.name
        }
      }
      #expect(name == "after-restart")

      try await forceSessionExpiry(client, on: server)
      bridge.name = "after-expiry"
      try await writerStore.update(bridge)
      for _ in 0..<5 where name != "after-expiry" {
        if case .value(let value)? = try await updates.next(within: WaitBudget.recovery) {
          name = value.name
        }
      }
      #expect(name == "after-expiry")
      await writer.close()
      await client.close()
    }
  }
}
