import Foundation
import MidgeTestSupport
import NSDB
import Testing
import Topology
import TopologyFile
import ZooKeeper

@Suite("apply on a fresh root and at ZooKeeper's request limit")
struct ApplyLimitTests {
  /// A store under a root that does not exist yet (no `setUp`).
  func withFreshStore(_ name: String, _ body: (NSDBStore, ZooKeeperClient) async throws -> Void)
    async throws
  {
    let server = try await ZooKeeperServer.shared()
    try await server.withClient(label: name) { client in
      let store = NSDBStore(
        client: client, root: uniquePath(name) + "/nested", logger: ZooKeeperServer.logger(name))
      try await body(store, client)
      try? await client.deleteRecursively(store.paths.root)
    }
  }

  @Test(
    "an apply too large for one ZooKeeper request fails before writing, with its size and the limit"
  )
  func tooLarge() async throws {
    try await withFreshStore("too-large") { store, client in
      var text = "bridges:\n"
      for index in 0..<8000 { text += "  - {name: bridge-with-a-longer-name-\(index)}\n" }
      let desired = try TopologyFile.parse(text)
      let began = ContinuousClock.now
      do {
        try await store.apply(desired, prune: false)
        Issue.record("an apply of 8000 bridges in one request succeeded")
      } catch let error as NSDBError {
        #expect(error.code == .tooLarge, "\(error)")
        #expect(error.message.contains("over ZooKeeper's limit of 1048575 bytes"), "\(error)")
        #expect(error.message.contains("bytes in 80"), "\(error)")
      }
      #expect(ContinuousClock.now - began < .seconds(30))
      #expect(try await client.exists(store.paths.root) == nil, "the refused apply wrote")
      // The estimate is the size ZooKeeper reads: the same apply in halves goes through.
      var half = "bridges:\n"
      for index in 0..<4000 { half += "  - {name: bridge-with-a-longer-name-\(index)}\n" }
      let plan = try await store.apply(try TopologyFile.parse(half), prune: false)
      #expect(plan.creates.count == 4000)
    }
  }

  @Test("the request size estimate matches what the server accepts at the limit")
  func estimateAtTheLimit() async throws {
    try await withFreshStore("estimate") { store, client in
      try await store.setUp()
      // A set whose request is exactly the limit by the estimate goes through: were the
      // estimate too small, the server would refuse it (and drop the connection).
      let path = store.paths.root + "/blob"
      _ = try await client.create(path)
      let overhead = NSDBStore.requestSize([.set(path, data: [], version: -1)])
      let fits = [UInt8](repeating: 7, count: NSDBStore.defaultMaxRequestBytes - overhead)
      #expect(NSDBStore.requestSize([.set(path, data: fits)]) == NSDBStore.defaultMaxRequestBytes)
      _ = try await client.multi([.set(path, data: fits)])
      #expect(try await client.get(path).data.count == fits.count)
    }
  }

  @Test("apply on a fresh root creates the layout in its own multi; a refused one leaves nothing")
  func freshRoot() async throws {
    try await withFreshStore("fresh") { store, client in
      // A port on a bridge the topology does not hold: the store refuses it.
      var dangling = TopologySnapshot()
      let port = Port(id: ID(name: "p"), device: .bridge(ID(name: "nowhere")), name: "p")
      dangling.ports[port.id] = port
      await #expect(throws: NSDBError.self) { try await store.apply(dangling, prune: false) }
      #expect(try await client.exists(store.paths.root) == nil, "the refused apply wrote")
      // A plan (diff) reads a root that does not exist without creating it.
      let desired = try TopologyFile.parse(ParseTests.demo)
      #expect(try await store.plan(desired, prune: false).creates.count == desired.count)
      #expect(try await client.exists(store.paths.root) == nil, "diff wrote")

      try await store.apply(desired, prune: false)
      for type in ModelType.allCases {
        #expect(try await client.exists(store.paths.models(type)) != nil)
      }
      #expect(try await client.exists(store.paths.state) != nil)
      #expect(try await store.apply(desired, prune: false).isEmpty)
    }
  }
}
