import MidgeTestSupport
import Testing
import ZooKeeper

@Suite("ZooKeeper client against a real server")
struct ClientTests {
  @Test("create, get, set and delete with versions; errors are typed")
  func crud() async throws {
    let server = try await ZooKeeperServer.shared()
    let client = try await server.client()
    defer { Task { await client.close() } }
    let root = uniquePath("crud")
    #expect(try await client.create(root, data: Array("one".utf8)) == root)
    var node = try await client.get(root)
    #expect(node.data == Array("one".utf8))
    #expect(node.stat.version == 0)

    let stat = try await client.set(root, data: Array("two".utf8), version: 0)
    #expect(stat.version == 1)
    await #expect(throws: ZooKeeperError.self) {
      try await client.set(root, data: [1], version: 0)
    }
    do {
      try await client.set(root, data: [1], version: 0)
    } catch let error as ZooKeeperError {
      #expect(error.code == .badVersion)
      #expect(error.path == root)
    }
    node = try await client.get(root)
    #expect(node.data == Array("two".utf8))

    do {
      try await client.create(root)
      Issue.record("creating an existing node succeeded")
    } catch let error as ZooKeeperError {
      #expect(error.code == .nodeExists)
    }
    try await client.create(root + "/child")
    do {
      try await client.delete(root)
      Issue.record("deleting a node with children succeeded")
    } catch let error as ZooKeeperError {
      #expect(error.code == .notEmpty)
    }
    do {
      _ = try await client.get(root + "/missing")
      Issue.record("reading a missing node succeeded")
    } catch let error as ZooKeeperError {
      #expect(error.code == .noNode)
    }
    #expect(try await client.exists(root + "/missing") == nil)
    #expect(try await client.exists(root + "/child") != nil)
    try await client.delete(root + "/child", version: 0)
    try await client.delete(root, version: 1)
    #expect(try await client.exists(root) == nil)
  }

  @Test("sequential, ephemeral and container modes; children sorted with stat")
  func modes() async throws {
    let server = try await ZooKeeperServer.shared()
    let client = try await server.client()
    defer { Task { await client.close() } }
    let root = uniquePath("modes")
    try await client.create(root)
    let first = try await client.create(root + "/seq-", mode: .persistentSequential)
    let second = try await client.create(root + "/seq-", mode: .ephemeralSequential)
    #expect(first == root + "/seq-0000000000")
    #expect(second == root + "/seq-0000000001")
    let ephemeral = try await client.exists(second)
    #expect(ephemeral?.ephemeralOwner == client.sessionID)
    try await client.create(root + "/b")
    try await client.create(root + "/a")
    let listing = try await client.children(root)
    #expect(listing.children == ["a", "b", "seq-0000000000", "seq-0000000001"])
    #expect(listing.stat.numChildren == 4)

    // A container outlives creation while empty, and the server removes it
    // once its last child is gone (the harness reaps every 250 ms); a
    // persistent node in the same situation stays.
    let container = root + "/container"
    let persistent = root + "/persistent"
    try await client.create(container, mode: .container)
    try await client.create(persistent)
    for parent in [container, persistent] {
      try await client.create(parent + "/x")
      try await client.delete(parent + "/x")
    }
    let reaped = try await eventually(timeout: .seconds(10)) {
      try await client.exists(container) == nil
    }
    #expect(reaped, "the empty container was not removed")
    #expect(try await client.exists(persistent) != nil)
    try await client.deleteRecursively(root)
    #expect(try await client.exists(root) == nil)
  }

  @Test("an ephemeral node disappears when its session is closed")
  func ephemeralGoneOnClose() async throws {
    let server = try await ZooKeeperServer.shared()
    let owner = try await server.client(label: "owner")
    let observer = try await server.client(label: "observer")
    defer { Task { await observer.close() } }
    let path = uniquePath("ephemeral-close")
    try await owner.create(path, data: [1], mode: .ephemeral)
    #expect(try await observer.exists(path) != nil)
    await owner.close()
    // A graceful close ends the session at once, not after the timeout.
    let gone = try await eventually(timeout: .seconds(2)) {
      try await observer.exists(path) == nil
    }
    #expect(gone)
    do {
      _ = try await owner.get(path)
      Issue.record("a closed client still answered")
    } catch let error as ZooKeeperError {
      #expect(error.code == .closed)
    }
  }

  @Test("an expired session loses its ephemerals; the client reports it and renews")
  func ephemeralGoneOnExpiry() async throws {
    let server = try await ZooKeeperServer.shared()
    let client = try await server.client(sessionTimeout: .seconds(2), label: "expiring")
    let observer = try await server.client(label: "observer")
    defer {
      Task {
        await client.close()
        await observer.close()
      }
    }
    let path = uniquePath("ephemeral-expiry")
    let events = client.sessionEvents().withDeadlines(
      "session event after a forced expiry", budget: WaitBudget.recovery)
    let oldSession = client.sessionID
    try await client.create(path, mode: .ephemeral)
    client.onNewSession { renewed in
      _ = try? await renewed.create(path, data: [2], mode: .ephemeral)
    }

    try await forceSessionExpiry(client, on: server)

    var seen: [SessionEvent] = []
    while seen.count < 100, let event = try await events.next() {
      seen.append(event)
      if case .connected = event { break }
    }
    #expect(seen.contains(.expired(sessionID: oldSession)))
    guard case .connected(let newSession)? = seen.last else {
      Issue.record("no new session after expiry: \(seen)")
      return
    }
    #expect(newSession != oldSession)
    #expect(client.sessionID == newSession)

    // The hook re-created the ephemeral under the new session.
    let recreated = try await eventually(timeout: .seconds(5)) {
      try await observer.exists(path)?.ephemeralOwner == newSession
    }
    #expect(recreated)
    #expect(try await observer.get(path).data == [2])
  }

  @Test("multi: a failing check rolls back everything and names the failed operation")
  func multiAtomicity() async throws {
    let server = try await ZooKeeperServer.shared()
    let client = try await server.client()
    defer { Task { await client.close() } }
    let root = uniquePath("multi")
    try await client.create(root, data: [0])

    do {
      _ = try await client.multi([
        .create(root + "/a", data: [1]),
        .set(root, data: [9], version: 0),
        .create(root + "/b"),
        .check(root, version: 7),
      ])
      Issue.record("a multi with a failing check was applied")
    } catch let error as ZooKeeperError {
      #expect(error.failedOperation == 3)
      #expect(error.code == .badVersion)
      #expect(error.path == root)
    }
    #expect(try await client.exists(root + "/a") == nil)
    #expect(try await client.exists(root + "/b") == nil)
    #expect(try await client.get(root).data == [0])

    let results = try await client.multi([
      .create(root + "/a", data: [1]),
      .create(root + "/seq-", mode: .persistentSequential),
      .set(root, data: [5], version: 0),
      .check(root + "/a", version: 0),
      .delete(root + "/a", version: 0),
    ])
    #expect(results.count == 5)
    #expect(results[0] == .created(path: root + "/a"))
    #expect(results[1] == .created(path: root + "/seq-0000000001"))
    guard case .set(let stat) = results[2] else {
      Issue.record("set result missing: \(results[2])")
      return
    }
    #expect(stat.version == 1)
    #expect(results[3] == .checked)
    #expect(results[4] == .deleted)
    #expect(try await client.get(root).data == [5])
    #expect(try await client.exists(root + "/a") == nil)

    // Two creates of distinct paths in one multi: every path stays pinned
    // until the completion, so neither turns into NODEEXISTS.
    let many = (0..<50).map { Operation.create(root + "/n\($0)", data: Array("\($0)".utf8)) }
    _ = try await client.multi(many)
    #expect(try await client.children(root).children.count == 51)
    #expect(try await client.get(root + "/n42").data == Array("42".utf8))

    do {
      _ = try await client.multi([.delete(root + "/n1"), .create(root + "/n2")])
      Issue.record("creating an existing node in a multi succeeded")
    } catch let error as ZooKeeperError {
      #expect(error.failedOperation == 1)
      #expect(error.code == .nodeExists)
    }
    #expect(try await client.exists(root + "/n1") != nil)
    try await client.deleteRecursively(root)
  }

  @Test("a data watch converges through create, set and delete")
  func dataWatch() async throws {
    let server = try await ZooKeeperServer.shared()
    let client = try await server.client()
    let writer = try await server.client(label: "writer")
    defer {
      Task {
        await client.close()
        await writer.close()
      }
    }
    let path = uniquePath("watch")
    let states = client.watchData(path).withDeadlines("data state of \(path)")
    #expect(try await states.next() == .absent)

    try await writer.create(path, data: [0])
    var last = try await states.next()
    #expect(last?.data == [0])
    for value in UInt8(1)...20 { try await writer.set(path, data: [value]) }
    var versions: [Int32] = []
    for _ in 0..<25 where last?.data != [20] {
      last = try await states.next()
      if case .present(let node)? = last { versions.append(node.stat.version) }
    }
    #expect(last?.data == [20])
    #expect(versions == versions.sorted(), "a watch delivered an older version after a newer one")

    try await writer.delete(path)
    #expect(try await states.next() == .absent)
    try await writer.create(path, data: [7])
    #expect(try await states.next()?.data == [7])
    try await writer.delete(path)
  }

  @Test("a children watch follows additions and removals")
  func childrenWatch() async throws {
    let server = try await ZooKeeperServer.shared()
    let client = try await server.client()
    defer { Task { await client.close() } }
    let root = uniquePath("children")
    let states = client.watchChildren(root).withDeadlines("children state of \(root)")
    #expect(try await states.next() == .absent)
    try await client.create(root)
    #expect(try await states.next()?.children == [])
    try await client.create(root + "/x")
    try await client.create(root + "/y")
    var last = try await states.next()
    for _ in 0..<3 where last?.children != ["x", "y"] { last = try await states.next() }
    #expect(last?.children == ["x", "y"])
    try await client.delete(root + "/x")
    last = try await states.next()
    #expect(last?.children == ["y"])
    try await client.deleteRecursively(root)
  }
}
