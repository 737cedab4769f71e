import Addresses
import Logging
import MidgeTestSupport
import Testing
import Topology
import ZooKeeper

@testable import NSDB

private let log = ZooKeeperServer.logger("port-routes")

@Suite("Port learned routes state key", .timeLimit(.minutes(2)))
struct PortRoutesTests {
  let router = ID.random()

  func learned(_ n: UInt8, via port: ID) -> Route {
    Route(
      id: ID(name: "learned-\(n)"), routerId: router,
      dstPrefix: IPv4Prefix(IPv4Address(10, n, 0, 0), length: 16), nextHop: .port,
      nextHopPortId: port, nextHopGateway: IPv4Address(192, 168, 0, n), weight: UInt32(n),
      learned: true)
  }

  @Test("publish → read → watch sees every replacement; withdraw and close remove the node")
  func publishWatchWithdraw() async throws {
    let server = try await ZooKeeperServer.shared()
    let paths = NSDBPaths(root: uniquePath("routes"))
    let port = ID.random()
    let agent = try await server.client(label: "agent")
    let observer = try await server.client(label: "observer")
    defer { Task { await observer.close() } }
    let publisher = PortRoutes(client: agent, paths: paths, logger: log)
    let reader = PortRoutes(client: observer, paths: paths, logger: log)
    let changes = reader.watchRoutes(port).withDeadlines("element of reader.watchRoutes(port)")
    #expect(try await changes.next() == [])
    #expect(try await reader.routes(port) == [])

    let first = [learned(1, via: port), learned(2, via: port)]
    try await publisher.publish(port: port, routes: first)
    #expect(try await changes.next() == first)
    #expect(try await reader.routes(port) == first)
    let owner = try await observer.exists(paths.portRoutes(port))?.ephemeralOwner
    #expect(owner == agent.sessionID)

    // Publishing again in the same session replaces the list in place.
    let second = [learned(3, via: port)]
    try await publisher.publish(port: port, routes: second)
    #expect(try await changes.next() == second)

    // Another session can neither take over nor withdraw them.
    do {
      try await reader.publish(port: port, routes: first)
      Issue.record("a second session published routes held by another session")
    } catch let error as NSDBError {
      #expect(error.code == .heldByAnotherSession)
    }
    try await reader.withdraw(port: port)
    #expect(try await reader.routes(port) == second)

    try await publisher.withdraw(port: port)
    #expect(try await changes.next() == [])
    #expect(try await observer.exists(paths.portRoutes(port)) == nil)

    try await publisher.publish(port: port, routes: first)
    #expect(try await changes.next() == first)
    await agent.close()
    #expect(try await changes.next() == [])
    #expect(try await observer.exists(paths.portRoutes(port)) == nil)
    try await observer.deleteRecursively(paths.root)
  }

  @Test("the routes vanish with an expired session and are re-published on the new one")
  func reassertedAfterExpiry() async throws {
    let server = try await ZooKeeperServer.shared()
    let paths = NSDBPaths(root: uniquePath("routes-expiry"))
    let port = ID.random()
    let agent = try await server.client(sessionTimeout: .seconds(2), label: "agent")
    let observer = try await server.client(label: "observer")
    defer {
      Task {
        await agent.close()
        await observer.close()
      }
    }
    let publisher = PortRoutes(client: agent, paths: paths, logger: log)
    let reader = PortRoutes(client: observer, paths: paths, logger: log)
    let routes = [learned(1, via: port), learned(2, via: port)]
    try await publisher.publish(port: port, routes: routes)
    guard let before = try await observer.exists(paths.portRoutes(port)) else {
      Issue.record("no routes node after publishing")
      return
    }
    let oldSession = agent.sessionID
    #expect(before.ephemeralOwner == oldSession)

    try await forceSessionExpiry(agent, on: server)
    // A node owned by the new session with a later creation zxid: the old
    // one vanished with its session and a new one was created.
    let recreated = try await eventually(timeout: .seconds(10)) {
      guard let stat = try await observer.exists(paths.portRoutes(port)) else { return false }
      return stat.ephemeralOwner != oldSession && stat.ephemeralOwner == agent.sessionID
        && stat.czxid > before.czxid
    }
    #expect(recreated)
    #expect(try await reader.routes(port) == routes)

    // Withdrawn routes stay withdrawn across the next expiry.
    try await publisher.withdraw(port: port)
    try await forceSessionExpiry(agent, on: server)
    try await Task.sleep(for: .milliseconds(500))
    #expect(try await observer.exists(paths.portRoutes(port)) == nil)
    try await observer.deleteRecursively(paths.root)
  }

  @Test("corrupt bytes in the routes node: reading and watching report .corrupt")
  func corruptNode() async throws {
    let server = try await ZooKeeperServer.shared()
    let paths = NSDBPaths(root: uniquePath("routes-corrupt"))
    let port = ID.random()
    try await server.withClient(label: "corrupt") { client in
      try await client.createPath(paths.portRoutes(port), data: [1, 0, 0, 0, 9, 0xFF])
      let reader = PortRoutes(client: client, paths: paths, logger: log)
      do {
        _ = try await reader.routes(port)
        Issue.record("corrupt routes decoded")
      } catch let error as NSDBError {
        #expect(error.code == .corrupt)
        #expect(error.message.contains(paths.portRoutes(port)))
      }
      let changes = reader.watchRoutes(port).withDeadlines("element of reader.watchRoutes(port)")
      do {
        _ = try await changes.next()
        Issue.record("the watch delivered corrupt routes")
      } catch let error as NSDBError {
        #expect(error.code == .corrupt)
      }
      try await client.deleteRecursively(paths.root)
    }
  }

  @Test("the framing round-trips and rejects every malformation without trapping")
  func encoding() throws {
    let port = ID.random()
    let routes = (1...3).map { learned($0, via: port) }
    let bytes = try PortRoutes.encode(routes)
    #expect(bytes.first == 1)
    #expect(try PortRoutes.decode(bytes, path: "p") == routes)
    #expect(try PortRoutes.decode(try PortRoutes.encode([]), path: "p") == [])

    var malformed: [[UInt8]] = [
      [],  // empty
      [2] + bytes.dropFirst(),  // unknown version
      bytes + [0],  // trailing byte
      [1, 0xFF, 0xFF, 0xFF, 0xFF],  // a count no node could hold
      [1, 0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF],  // a length past the end
      [1, 0, 0, 0, 1, 0, 0, 0, 3, 0xFF, 0xFF, 0xFF],  // not a Route message
      [1, 0, 0, 0, 1, 0, 0, 0, 0],  // a Route without its required id
    ]
    // Every truncation of a valid encoding.
    malformed += (0..<bytes.count).map { Array(bytes.prefix($0)) }
    for data in malformed {
      #expect(throws: NSDBError.self) { try PortRoutes.decode(data, path: "p") }
      do {
        _ = try PortRoutes.decode(data, path: "p")
      } catch {
        #expect(error.code == .corrupt)
      }
    }
  }
}
