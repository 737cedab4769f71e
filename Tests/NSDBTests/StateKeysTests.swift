import Logging
import MidgeTestSupport
import NSDB
import Testing
import Topology
import ZooKeeper

private let log = ZooKeeperServer.logger("state-keys")

@Suite("Host and port state keys", .timeLimit(.minutes(2)))
struct StateKeysTests {
  @Test("a host's alive node vanishes when its session is closed")
  func aliveVanishesOnClose() async throws {
    let server = try await ZooKeeperServer.shared()
    let paths = NSDBPaths(root: uniquePath("alive"))
    let host = ID.random()
    let agent = try await server.client(label: "agent")
    let observer = try await server.client(label: "observer")
    defer { Task { await observer.close() } }
    let watching = HostState(client: observer, paths: paths, logger: log)
    let alive = watching.watchAlive(host).withDeadlines("element of watching.watchAlive(host)")
    #expect(try await alive.next() == false)
    #expect(try await watching.isAlive(host) == false)

    try await HostState(client: agent, paths: paths, logger: log).registerAlive(host: host)
    #expect(try await alive.next() == true)
    #expect(try await watching.isAlive(host))
    await agent.close()
    #expect(try await alive.next() == false)
    try await observer.deleteRecursively(paths.root)
  }

  @Test("alive is re-created under the new session after an expiry")
  func aliveRecreatedAfterExpiry() async throws {
    let server = try await ZooKeeperServer.shared()
    let paths = NSDBPaths(root: uniquePath("alive-expiry"))
    let host = ID.random()
    let agent = try await server.client(sessionTimeout: .seconds(2), label: "agent")
    let observer = try await server.client(label: "observer")
    defer {
      Task {
        await agent.close()
        await observer.close()
      }
    }
    let state = HostState(client: agent, paths: paths, logger: log)
    try await state.registerAlive(host: host)
    // Registering again in the same session adopts the node.
    try await state.registerAlive(host: host)
    let oldSession = agent.sessionID
    try await forceSessionExpiry(agent, on: server)
    let recreated = try await eventually(timeout: .seconds(10)) {
      let owner = try await observer.exists(paths.hostAlive(host))?.ephemeralOwner
      return owner != nil && owner != oldSession && owner == agent.sessionID
    }
    #expect(recreated)
    // A second agent claiming the same host fails once the wait runs out.
    let impostor = try await server.client(label: "impostor")
    do {
      try await HostState(client: impostor, paths: paths, logger: log)
        .registerAlive(host: host, waitForStale: .milliseconds(300))
      Issue.record("a second session took over a live host's alive node")
    } catch let error as NSDBError {
      #expect(error.code == .heldByAnotherSession)
    }
    await impostor.close()
    try await state.unregisterAlive(host: host)
    #expect(try await observer.exists(paths.hostAlive(host)) == nil)
    try await observer.deleteRecursively(paths.root)
  }

  @Test("port activation: serving host and tunnel key; gone on deactivate and on close")
  func portActivation() async throws {
    let server = try await ZooKeeperServer.shared()
    let paths = NSDBPaths(root: uniquePath("active"))
    let port = ID.random()
    let (hostA, hostB) = (ID.random(), ID.random())
    let a = try await server.client(label: "host-a")
    let b = try await server.client(label: "host-b")
    defer { Task { await b.close() } }
    let stateA = PortState(client: a, paths: paths, logger: log)
    let stateB = PortState(client: b, paths: paths, logger: log)
    let active = stateB.watchActive(port).withDeadlines("element of stateB.watchActive(port)")
    #expect(try await active.next() == .some(nil))

    try await stateA.activate(port: port, host: hostA, tunnelKey: 0xDEAD_BEEF)
    let expected = PortActivation(host: hostA, tunnelKey: 0xDEAD_BEEF)
    #expect(try await active.next() == expected)
    #expect(try await stateB.activeState(port) == expected)

    // Another host can neither steal nor deactivate it.
    do {
      try await stateB.activate(port: port, host: hostB, tunnelKey: 7)
      Issue.record("a second host activated a port served by another session")
    } catch let error as NSDBError {
      #expect(error.code == .heldByAnotherSession)
    }
    try await stateB.deactivate(port: port)
    #expect(try await stateA.activeState(port) == expected)

    try await stateA.deactivate(port: port)
    #expect(try await active.next() == .some(nil))
    try await stateA.activate(port: port, host: hostA, tunnelKey: 9)
    #expect(try await active.next() == PortActivation(host: hostA, tunnelKey: 9))
    await a.close()
    #expect(try await active.next() == .some(nil))
    try await stateB.activate(port: port, host: hostB, tunnelKey: 7)
    #expect(try await stateB.activeState(port) == PortActivation(host: hostB, tunnelKey: 7))
    try await b.deleteRecursively(paths.root)
  }

  @Test("the activation encoding is 21 fixed bytes and rejects anything else")
  func activationEncoding() throws {
    let activation = PortActivation(
      host: ID(high: 0x0102_0304_0506_0708, low: 0x090A_0B0C_0D0E_0F10), tunnelKey: 0x1122_3344)
    let bytes = activation.encoded
    #expect(bytes == [1] + Array(1...16) + [0x11, 0x22, 0x33, 0x44])
    #expect(PortActivation(decoding: bytes) == activation)
    #expect(PortActivation(decoding: Array(bytes.dropLast())) == nil)
    #expect(PortActivation(decoding: [2] + bytes.dropFirst()) == nil)
  }

  @Test("host interfaces are stored as a list and replaced as a whole")
  func interfaces() async throws {
    let server = try await ZooKeeperServer.shared()
    let paths = NSDBPaths(root: uniquePath("interfaces"))
    try await server.withClient { client in
      let state = HostState(client: client, paths: paths, logger: log)
      let host = ID.random()
      #expect(try await state.interfaces(host) == [])
      let changes = state.watchInterfaces(host).withDeadlines(
        "element of state.watchInterfaces(host)")
      #expect(try await changes.next() == [])
      try await state.setInterfaces(host: host, ["eth0", "veth-a.10"])
      #expect(try await state.interfaces(host) == ["eth0", "veth-a.10"])
      #expect(try await changes.next() == ["eth0", "veth-a.10"])
      try await state.setInterfaces(host: host, ["eth1"])
      #expect(try await changes.next() == ["eth1"])
      await #expect(throws: NSDBError.self) {
        try await state.setInterfaces(host: host, ["bad name"])
      }
      try await client.deleteRecursively(paths.root)
    }
  }
}
