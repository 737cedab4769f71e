import Logging
import MidgeTestSupport
import Topology
import ZooKeeper

@testable import NSDB

/// A store under a unique root on the shared test server.
struct NSDBFixture {
  let server: ZooKeeperServer
  let client: ZooKeeperClient
  let store: NSDBStore

  static func make(_ name: String, bindings: [Binding] = Binding.standard) async throws
    -> NSDBFixture
  {
    let server = try await ZooKeeperServer.shared()
    let client = try await server.client(label: name)
    let store = NSDBStore(
      client: client, root: uniquePath(name), maxAttempts: 8,
      logger: ZooKeeperServer.logger(name), bindings: bindings)
    try await store.setUp()
    return NSDBFixture(server: server, client: client, store: store)
  }

  /// A second store on another session, same root.
  func peer(_ name: String) async throws -> NSDBStore {
    let client = try await server.client(label: name)
    return NSDBStore(client: client, root: store.paths.root, logger: ZooKeeperServer.logger(name))
  }

  func close() async {
    try? await client.deleteRecursively(store.paths.root)
    await client.close()
  }
}

extension ID {
  static func named(_ name: String) -> ID { ID(name: name) }
}
