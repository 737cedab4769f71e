import Addresses
import Logging
import MidgeTestSupport
import NSDB
import Testing
import Topology
import ZooKeeper

private let log = ZooKeeperServer.logger("state-table")

@Suite("State tables: replicated key → value maps in node names", .timeLimit(.minutes(2)))
struct StateTableTests {
  @Test("names with separators, escapes and non-ASCII round-trip through the codec")
  func nameCodec() throws {
    let samples = [
      "02:00:00:00:00:01", "a,b/c%d", "", "%2C", ".", "..", "ünï,cøde", "x\ny\u{0}", "10.0.0.1",
      "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
    ]
    for key in samples {
      for value in samples.reversed() {
        let prefix = StateTableName.prefix(key: key, value: value, persistent: key.isEmpty)
        #expect(!prefix.dropLast().contains("/"))
        #expect(prefix.filter { $0 == "," }.count == 3)
        let entry = try #require(StateTableName.parse(prefix + "0000000042"))
        #expect(entry.key == key)
        #expect(entry.value == value)
        #expect(entry.sequence == 42)
        #expect(entry.persistent == key.isEmpty)
      }
    }
    #expect(StateTableName.escape("02:00:00:00:00:01") == "02:00:00:00:00:01")
    #expect(StateTableName.parse("not-an-entry") == nil)
    #expect(StateTableName.parse("a,b,X,0000000001") == nil)
    #expect(StateTableName.parse("a%2,b,L,0000000001") == nil)
  }

  @Test("keys and values with separators round-trip through ZooKeeper")
  func separatorsThroughZooKeeper() async throws {
    let server = try await ZooKeeperServer.shared()
    try await server.withClient { client in
      let table = StateTable(client: client, path: uniquePath("sep") + "/table", logger: log)
      try await table.add(key: "a,b/c%d", value: "x/y,z%")
      try await table.add(key: "k", value: "v,1", persistent: true)
      #expect(try await table.get("a,b/c%d") == "x/y,z%")
      #expect(try await table.snapshot() == ["a,b/c%d": "x/y,z%", "k": "v,1"])
      #expect(try await table.remove(key: "a,b/c%d", value: "x/y,z%") == 1)
      #expect(try await table.get("a,b/c%d") == nil)
    }
  }

  @Test("the newest learned entry wins; removing it uncovers the previous one")
  func newestLearnedWins() async throws {
    let server = try await ZooKeeperServer.shared()
    let path = uniquePath("newest")
    let first = try await server.client(label: "first")
    let second = try await server.client(label: "second")
    defer {
      Task {
        await first.close()
        await second.close()
      }
    }
    let a = StateTable(client: first, path: path, logger: log)
    let b = StateTable(client: second, path: path, logger: log)
    try await a.add(key: "k", value: "1")
    try await b.add(key: "k", value: "2")
    #expect(try await a.get("k") == "2")
    try await a.add(key: "k", value: "3")
    #expect(try await b.get("k") == "3")
    // Only the caller's own entries are removed.
    #expect(try await b.remove(key: "k", value: "3") == 0)
    #expect(try await a.remove(key: "k", value: "3") == 1)
    #expect(try await b.get("k") == "2")
    // Re-learning a pair refreshes it (it becomes the newest) without
    // accumulating nodes.
    try await a.add(key: "k", value: "1")
    #expect(try await b.get("k") == "1")
    #expect(try await a.entries().filter { $0.value == "1" }.count == 1)
    await first.close()
    let fell = try await eventually(timeout: .seconds(5)) { try await b.get("k") == "2" }
    #expect(fell)
    try await second.deleteRecursively(path)
  }

  @Test("a persistent entry serves only while no learned entry exists")
  func persistentFallback() async throws {
    let server = try await ZooKeeperServer.shared()
    let path = uniquePath("persistent")
    let operatorClient = try await server.client(label: "operator")
    let agent = try await server.client(label: "agent")
    defer {
      Task {
        await operatorClient.close()
        await agent.close()
      }
    }
    let admin = StateTable(client: operatorClient, path: path, logger: log)
    let learner = StateTable(client: agent, path: path, logger: log)
    try await admin.add(key: "k", value: "static", persistent: true)
    #expect(try await learner.get("k") == "static")
    try await learner.add(key: "k", value: "learned")
    // A persistent entry written after the learned one still does not win.
    try await admin.add(key: "k", value: "static2", persistent: true)
    #expect(try await admin.get("k") == "learned")
    await agent.close()
    let fell = try await eventually(timeout: .seconds(5)) { try await admin.get("k") == "static2" }
    #expect(fell)
    #expect(try await admin.remove(key: "k", value: "static2", persistent: true) == 1)
    #expect(try await admin.get("k") == "static")
    try await operatorClient.deleteRecursively(path)
  }

  @Test("MAC-table entries vanish when the owning session is closed")
  func macEntriesVanishOnClose() async throws {
    let server = try await ZooKeeperServer.shared()
    let paths = NSDBPaths(root: uniquePath("mac-close"))
    let bridge = ID.random()
    let owner = try await server.client(label: "owner")
    let observer = try await server.client(label: "observer")
    defer { Task { await observer.close() } }
    let learned = MACTable.macTable(
      client: owner, paths: paths, bridge: bridge, vlan: 10, logger: log)
    let seen = MACTable.macTable(
      client: observer, paths: paths, bridge: bridge, vlan: 10, logger: log)
    let mac = try MACAddress(parsing: "02:00:00:00:00:01")
    let port = ID.random()
    try await learned.add(mac, port)
    #expect(try await seen.get(mac) == port)
    #expect(try await observer.exists(paths.macTable(bridge: bridge, vlan: 10)) != nil)
    await owner.close()
    let gone = try await eventually(timeout: .seconds(5)) { try await seen.snapshot().isEmpty }
    #expect(gone)
    try await observer.deleteRecursively(paths.root)
  }

  @Test("learned entries vanish on session expiry; re-asserted ones come back in order")
  func macEntriesOnExpiry() async throws {
    let server = try await ZooKeeperServer.shared()
    let paths = NSDBPaths(root: uniquePath("mac-expiry"))
    let bridge = ID.random()
    let owner = try await server.client(sessionTimeout: .seconds(2), label: "owner")
    let observer = try await server.client(label: "observer")
    defer {
      Task {
        await owner.close()
        await observer.close()
      }
    }
    let kept = MACTable.macTable(client: owner, paths: paths, bridge: bridge, vlan: 1, logger: log)
    let lost = MACTable.macTable(client: owner, paths: paths, bridge: bridge, vlan: 2, logger: log)
    kept.reassertOnNewSession()
    let mac = try MACAddress(parsing: "02:00:00:00:00:02")
    let (oldPort, newPort) = (ID.random(), ID.random())
    try await kept.add(mac, oldPort)
    try await kept.add(mac, newPort)  // newer: must still win after re-assertion
    try await lost.add(mac, oldPort)
    let oldSession = owner.sessionID

    try await forceSessionExpiry(owner, on: server)
    let watcher = MACTable.macTable(
      client: observer, paths: paths, bridge: bridge, vlan: 2, logger: log)
    let vanished = try await eventually(timeout: .seconds(10)) {
      try await watcher.snapshot().isEmpty
    }
    #expect(vanished)
    let back = try await eventually(timeout: .seconds(10)) {
      guard owner.sessionID != oldSession, owner.isConnected else { return false }
      return try await kept.table.entries().count == 2
    }
    #expect(back)
    #expect(try await kept.get(mac) == newPort)
    for entry in try await kept.table.entries() {
      let stat = try await observer.exists(kept.table.path + "/" + entry.name)
      #expect(stat?.ephemeralOwner == owner.sessionID)
    }
    try await observer.deleteRecursively(paths.root)
  }

  @Test("a replica reports additions, changes and removals in order")
  func replicaInOrder() async throws {
    let server = try await ZooKeeperServer.shared()
    let path = uniquePath("replica") + "/table"
    let writer = try await server.client(label: "writer")
    let reader = try await server.client(label: "reader")
    defer {
      Task {
        await writer.close()
        await reader.close()
      }
    }
    let table = StateTable(client: writer, path: path, logger: log)
    let updates = StateTable(client: reader, path: path, logger: log).replicate()
      .withDeadlines("replica update of \(path)")
    let initial = try #require(try await updates.next())
    #expect(initial.snapshot.isEmpty)
    #expect(initial.changes.isEmpty)

    func step(
      _ write: () async throws -> Void, expect changes: [StateTableChange]
    ) async throws {
      try await write()
      let update = try #require(try await updates.next())
      #expect(update.changes == changes)
    }
    try await step(
      { try await table.add(key: "k1", value: "v1") },
      expect: [.init(key: "k1", oldValue: nil, newValue: "v1")])
    try await step(
      { try await table.add(key: "k2", value: "w") },
      expect: [.init(key: "k2", oldValue: nil, newValue: "w")])
    try await step(
      { try await table.add(key: "k1", value: "v2") },
      expect: [.init(key: "k1", oldValue: "v1", newValue: "v2")])
    try await step(
      { try await table.remove(key: "k1", value: "v2") },
      expect: [.init(key: "k1", oldValue: "v2", newValue: "v1")])
    try await step(
      { try await table.remove(key: "k1", value: "v1") },
      expect: [.init(key: "k1", oldValue: "v1", newValue: nil)])
    #expect(StateTableChange(key: "k", oldValue: nil, newValue: "v").kind == .added)
    #expect(StateTableChange(key: "k", oldValue: "v", newValue: "w").kind == .changed)
    #expect(StateTableChange(key: "k", oldValue: "v", newValue: nil).kind == .removed)

    // A batch of writes arrives complete (perhaps coalesced) and ends right.
    for index in 0..<20 { try await table.add(key: "n\(index)", value: "\(index)") }
    var last = try #require(try await updates.next())
    var added = last.changes.map(\.key)
    for _ in 0..<20 where last.snapshot.count < 21 {
      last = try #require(try await updates.next())
      added += last.changes.map(\.key)
    }
    #expect(last.snapshot.count == 21)
    #expect(added == (0..<20).map { "n\($0)" }, "additions out of write order")
    try await writer.deleteRecursively(path)
  }

  @Test("typed ARP and IPv4 → MAC tables store addresses")
  func typedTables() async throws {
    let server = try await ZooKeeperServer.shared()
    let paths = NSDBPaths(root: uniquePath("typed"))
    try await server.withClient { client in
      let router = ID.random()
      let arp = ARPTable.arpTable(client: client, paths: paths, router: router, logger: log)
      let ip = try IPv4Address(parsing: "10.0.0.1")
      let mac = try MACAddress(parsing: "02:aa:bb:cc:dd:ee")
      try await arp.add(ip, mac)
      #expect(try await arp.get(ip) == mac)
      #expect(try await arp.snapshot() == [ip: mac])
      #expect(arp.table.path == paths.arpTable(router: router))
      // A foreign node in the table is ignored, not fatal.
      try await client.create(arp.table.path + "/junk")
      try await client.create(
        arp.table.path + "/" + StateTableName.prefix(key: "nope", value: "x", persistent: true))
      #expect(try await arp.snapshot() == [ip: mac])

      let bridge = ID.random()
      let ip4mac = IPv4MACTable.ip4MacTable(
        client: client, paths: paths, bridge: bridge, logger: log)
      let replica = ip4mac.replicate().withDeadlines("element of ip4mac.replicate()")
      #expect(try await replica.next()?.snapshot == [:])
      try await ip4mac.add(ip, mac, persistent: true)
      let update = try #require(try await replica.next())
      #expect(update.changes == [TypedStateTableChange(key: ip, oldValue: nil, newValue: mac)])
      try await client.deleteRecursively(paths.root)
    }
  }
}
