import Addresses
import Foundation
import MidgeTestSupport
import NSDB
import Testing
import Topology
import ZooKeeper

/// A secured NSDB against a real ZooKeeper: the administrator writes models, an agent
/// writes only its own host's state and the shared tables, the anonymous world nothing;
/// an open tree is secured in place.
@Suite("NSDB access: identities and ACLs", .timeLimit(.minutes(2)))
struct AccessTests {
  let admin = try! DigestIdentity(user: "admin", secret: CredentialFile.newSecret())
  let agents = try! DigestIdentity(user: "agents", secret: CredentialFile.newSecret())
  let host1 = try! DigestIdentity(user: "host-one", secret: CredentialFile.newSecret())
  let host2 = try! DigestIdentity(user: "host-two", secret: CredentialFile.newSecret())
  let one = ID(name: "Host/one")
  let two = ID(name: "Host/two")

  var identities: NSDBIdentities {
    NSDBIdentities(
      admin: admin.id, agents: agents.id,
      hosts: [one.description: host1.id, two.description: host2.id])
  }

  /// An open tree with two hosts and a chain, then secured by the administrator.
  func securedTree(_ server: ZooKeeperServer, root: String) async throws {
    let client = try await server.client(label: "admin", authentication: [admin])
    defer { Task { await client.close() } }
    let store = NSDBStore(client: client, root: root, logger: ZooKeeperServer.logger("admin"))
    try await store.setUp()
    try await store.create(Host(id: one, name: "one"))
    try await store.create(Host(id: two, name: "two"))
    try await store.create(Chain(id: ID(name: "Chain/c"), name: "c"))
    let access = NSDBAccess(
      identities: identities, paths: NSDBPaths(root: root), creator: admin.id)
    let report = try await store.secure(access)
    #expect(report.changed > 0 && report.created >= 2)
    let again = try await store.secure(access)
    #expect(again.changed == 0, "securing twice changes nothing the second time")
    #expect(try await store.auditACLs(access).findings.isEmpty)
  }

  @Test("an agent identity may write its own host's state, not models or another host's state")
  func agentRefused() async throws {
    let server = try await ZooKeeperServer.shared()
    let root = uniquePath("access")
    let paths = NSDBPaths(root: root)
    try await securedTree(server, root: root)
    let client = try await server.client(label: "agent", authentication: [agents, host1])
    defer { Task { await client.close() } }
    let store = NSDBStore(client: client, root: root, logger: ZooKeeperServer.logger("agent"))
    let access = try #require(try await store.useAccess(creator: host1))
    #expect(access.identities == identities)

    // Reads work.
    #expect(try await store.get(Chain.self, ID(name: "Chain/c")).name == "c")
    // A chain, a rule: refused, with the identity they need, and nothing changes.
    do {
      try await store.create(Chain(id: ID(name: "Chain/evil"), name: "evil"))
      Issue.record("an agent created a chain")
    } catch let error as NSDBError {
      #expect(error.code == .notAuthorised)
      #expect(
        "\(error)".contains("not authorised to write \(paths.models(.chain))/")
          && "\(error)".contains("this needs the admin identity"), "\(error)")
    }
    await #expect(throws: NSDBError.self) {
      try await store.create(
        Rule(id: ID(name: "Rule/r"), chainId: ID(name: "Chain/c"), action: .drop))
    }
    #expect(try await store.ids(Chain.self) == [ID(name: "Chain/c")])
    #expect(try await store.ids(Rule.self).isEmpty)
    // Its own host's state: yes. Another host's: refused.
    try await client.createPath(paths.hostAlive(one))
    await #expect(throws: ZooKeeperError.self) {
      try await client.createPath(paths.hostAlive(two))
    }
    #expect(try await client.exists(paths.hostAlive(two)) == nil)
    // A shared table: an entry it makes names it alone as writer.
    let table = paths.arpTable(router: ID(name: "Router/r"))
    try await client.createPath(table + "/entry")
    let acl = try await client.getACL(table + "/entry").acl
    #expect(acl.contains(ZooKeeperACL(.all, host1)))
    #expect(!acl.contains(ZooKeeperACL(.all, host2)))
    // The other host may not change it.
    let other = try await server.client(label: "agent2", authentication: [agents, host2])
    defer { Task { await other.close() } }
    await #expect(throws: ZooKeeperError.self) {
      try await other.set(table + "/entry", data: [1])
    }
  }

  @Test("the anonymous world reads and writes nothing under a secured root")
  func anonymousRefused() async throws {
    let server = try await ZooKeeperServer.shared()
    let root = uniquePath("access-anon")
    let paths = NSDBPaths(root: root)
    try await securedTree(server, root: root)
    let client = try await server.client(label: "anonymous")
    defer { Task { await client.close() } }
    for path in [
      root, paths.version, paths.models(.chain), paths.object(.chain, ID(name: "Chain/c")),
    ] {
      await #expect(throws: ZooKeeperError.self, "read \(path)") { try await client.get(path) }
      await #expect(throws: ZooKeeperError.self, "list \(path)") {
        try await client.children(path)
      }
      await #expect(throws: ZooKeeperError.self, "write \(path)") {
        try await client.set(path, data: [1])
      }
      await #expect(throws: ZooKeeperError.self, "create under \(path)") {
        try await client.create(path + "/x")
      }
    }
    let store = NSDBStore(client: client, root: root, logger: ZooKeeperServer.logger("anon"))
    do {
      _ = try await store.ids(Chain.self)
      Issue.record("an anonymous client listed chains")
    } catch let error as NSDBError {
      #expect(error.code == .notAuthorised, "\(error)")
    }
  }

  @Test("a transaction's size counts the ACL its creates get, so the limit check holds secured")
  func requestSizeCountsACL() {
    let create = Operation.create("/midge/v1/models/Chain/x", data: [1])
    let open = NSDBStore.requestSize([create])
    let access = NSDBAccess(identities: identities, paths: NSDBPaths(), creator: admin.id)
    let secured = NSDBStore.requestSize([create]) { access.acl($0) }
    let entry = { (id: String) in 4 + 4 + "digest".utf8.count + 4 + id.utf8.count }
    let world = 4 + 4 + "world".utf8.count + 4 + "anyone".utf8.count
    #expect(secured == open - world + entry(admin.id) + entry(agents.id))
  }
}
