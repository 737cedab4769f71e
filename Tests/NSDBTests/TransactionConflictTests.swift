import MidgeTestSupport
import Testing
import Topology
import ZooKeeper

@testable import NSDB

@Suite("NSDB transactions that keep conflicting")
struct TransactionConflictTests {
  @Test("a transaction that conflicts on every attempt gives up after maxAttempts with .conflict")
  func givesUp() async throws {
    let f = try await NSDBFixture.make("conflict")
    let router = ID.named("r")
    try await f.store.create(Router(id: router, name: "v0"))
    let store = NSDBStore(
      client: f.client, root: f.store.paths.root, maxAttempts: 2,
      logger: ZooKeeperServer.logger("conflict"))
    let peer = try await f.peer("conflict-peer")
    var attempts = 0
    do {
      try await store.transaction { tx in
        attempts += 1
        var mine = try await tx.require(Router.self, router)
        // Another writer changes the router after every read, so every
        // commit's version check fails.
        var theirs = try await peer.get(Router.self, router)
        theirs.name = "peer-\(attempts)"
        try await peer.update(theirs)
        mine.name = "mine"
        try await tx.update(mine)
        try await tx.create(Bridge(id: .named("b"), name: "side effect"))
      }
      Issue.record("a transaction that always conflicts committed")
    } catch let error as NSDBError {
      #expect(error.code == .conflict)
      #expect(error.message.contains("2 conflicting attempts"))
    }
    #expect(attempts == 2)
    // Nothing of the transaction was applied: the peer's last write stands.
    #expect(try await f.store.get(Router.self, router).name == "peer-2")
    #expect(try await !f.store.exists(Bridge.self, .named("b")))
    await peer.client.close()
    await f.close()
  }

  @Test("maxAttempts below 1 still runs a transaction once instead of trapping")
  func atLeastOneAttempt() async throws {
    let f = try await NSDBFixture.make("conflict-zero")
    let router = ID.named("r")
    try await f.store.create(Router(id: router, name: "v0"))
    let store = NSDBStore(
      client: f.client, root: f.store.paths.root, maxAttempts: 0,
      logger: ZooKeeperServer.logger("conflict-zero"))
    #expect(store.maxAttempts == 1)
    try await store.create(Bridge(id: .named("b"), name: "b"))
    #expect(try await store.exists(Bridge.self, .named("b")))

    let peer = try await f.peer("conflict-zero-peer")
    var attempts = 0
    await #expect(throws: NSDBError.self) {
      try await store.transaction { tx in
        attempts += 1
        var mine = try await tx.require(Router.self, router)
        var theirs = try await peer.get(Router.self, router)
        theirs.name = "peer"
        try await peer.update(theirs)
        mine.name = "mine"
        try await tx.update(mine)
      }
    }
    #expect(attempts == 1)
    #expect(try await f.store.get(Router.self, router).name == "peer")
    await peer.client.close()
    await f.close()
  }
}
