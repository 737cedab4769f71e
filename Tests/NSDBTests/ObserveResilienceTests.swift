import MidgeTestSupport
import Testing
import Topology
import ZooKeeper

@testable import NSDB

@Suite("NSDB observation: corrupt objects and session expiry", .serialized, .timeLimit(.minutes(2)))
struct ObserveResilienceTests {
  @Test(
    "observe of an object whose bytes are or become corrupt reports .corrupt and goes on to the repair"
  )
  func observeCorrupt() async throws {
    let f = try await NSDBFixture.make("observe-corrupt")
    let store = f.store
    let bad = ID.named("bad")
    try await f.client.create(store.paths.object(.bridge, bad), data: [0xFF, 0x00, 0x13, 0x37])
    let updates = store.observe(Bridge.self, bad).withDeadlines(
      "element of store.observe(Bridge.self, bad)")
    guard case .corrupt(let error)? = try await updates.next() else {
      Issue.record("an observer did not report corrupt bytes")
      return
    }
    #expect(error.code == .corrupt)
    #expect(error.message.contains("\(bad)"))
    // Repaired in place: the observer gets the value, without observing again.
    try await f.client.set(
      store.paths.object(.bridge, bad), data: try ModelCodec.encode(Bridge(id: bad, name: "fixed")))
    guard case .value(let fixed)? = try await updates.next() else {
      Issue.record("the repair did not arrive")
      return
    }
    #expect(fixed.name == "fixed")

    // An object that goes corrupt after a good value: the value, then .corrupt;
    // an observer of another object is not disturbed.
    let good = ID.named("good")
    let other = ID.named("other")
    try await store.create(Bridge(id: good, name: "good"))
    try await store.create(Bridge(id: other, name: "other"))
    let goodUpdates = store.observe(Bridge.self, good).withDeadlines(
      "element of store.observe(Bridge.self, good)")
    let otherUpdates = store.observe(Bridge.self, other).withDeadlines(
      "element of store.observe(Bridge.self, other)")
    guard case .value(let first)? = try await goodUpdates.next() else {
      Issue.record("no initial value")
      return
    }
    #expect(first.name == "good")
    _ = try await otherUpdates.next()
    try await f.client.set(store.paths.object(.bridge, good), data: [0xFF, 0xFF])
    guard case .corrupt? = try await goodUpdates.next() else {
      Issue.record("the observer of a now corrupt object was not told")
      return
    }
    // A new observer of the corrupt object is told too, not given a stale value.
    let again = store.observe(Bridge.self, good).withDeadlines(
      "element of store.observe(Bridge.self, good)")
    guard case .corrupt? = try await again.next() else {
      Issue.record("a new observer got a stale value")
      return
    }

    var renamed = try await store.get(Bridge.self, other)
    renamed.name = "renamed"
    try await store.update(renamed)
    guard case .value(let value)? = try await otherUpdates.next() else {
      Issue.record("the other observer stopped")
      return
    }
    #expect(value.name == "renamed")
    await f.close()
  }

  @Test("observeAll keeps delivering creates, updates and deletes after a forced session expiry")
  func observeAllAfterExpiry() async throws {
    let f = try await NSDBFixture.make("observe-all-expiry")
    let store = f.store
    try await store.transaction { tx in
      for n in 0..<3 { try await tx.create(Bridge(id: .named("b\(n)"), name: "b\(n)")) }
    }
    let events = store.observeAll(Bridge.self).withDeadlines(
      "element of store.observeAll(Bridge.self)")
    var seen = Set<ID>()
    // Three objects and .ready: a hundred events would be a runaway stream.
    for _ in 0..<100 {
      guard let event = try await events.next() else { break }
      if case .updated(let bridge) = event { seen.insert(bridge.id) }
      if case .ready = event { break }
    }
    #expect(seen.count == 3)

    let oldSession = f.client.sessionID
    try await forceSessionExpiry(f.client, on: f.server)
    #expect(f.client.sessionID != oldSession)

    let writer = try await f.peer("observe-all-writer")
    try await writer.create(Bridge(id: .named("new"), name: "new"))
    var renamed = try await writer.get(Bridge.self, .named("b0"))
    renamed.name = "b0-after-expiry"
    try await writer.update(renamed)
    try await writer.delete(Bridge.self, .named("b1"))
    var created = false
    var updated = false
    var deleted = false
    reading: for _ in 0..<20 where !(created && updated && deleted) {
      switch try await events.next(within: WaitBudget.recovery) {
      case .updated(let bridge)? where bridge.id == .named("new"): created = true
      case .updated(let bridge)? where bridge.name == "b0-after-expiry": updated = true
      case .deleted(let id)? where id == .named("b1"): deleted = true
      case nil:
        Issue.record("observeAll ended after the expiry")
        break reading
      default: break
      }
    }
    #expect(created)
    #expect(updated)
    #expect(deleted)
    await writer.client.close()
    await f.close()
  }
}
