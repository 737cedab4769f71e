import Foundation
import Glibc
import MidgeTestSupport
import NSDB
import Testing
import Topology

/// An agent facing bad input: a corrupt object it serves, and requests that used to
/// crash it. Real agents, VM namespaces and ZooKeeper.
@Suite(
  "Agent hardening: corrupt objects and hostile control requests",
  .serialized, .requires(Requirement.agents))
struct AgentHardeningTests {
  /// Agent 1's `/health` answer.
  static func health(_ world: AgentWorld) throws -> [String: Any] {
    let body = try world.controlGet(0, "/health")
    return try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] ?? [:]
  }

  @Test(
    "an agent restarted while one of its ports is corrupt serves the others, reports it, and takes the repair"
  )
  func corruptPinnedPort() async throws {
    let world = try AgentWorld(zookeeper: try await ZooKeeperServer.shared())
    defer { world.cleanUp() }
    try await world.start()
    let (path, good) = try await world.withStore { store in
      let port = try #require(try await store.getAll(Port.self).first { $0.name == "vm-a1" })
      let path = store.paths.object(.port, port.id)
      return (path, try await store.client.get(path).data)
    }

    // host-1 stops; meanwhile its port vm-a1 is overwritten with bytes no decoder takes.
    world.agents[0].child?.signal(SIGTERM)
    _ = await world.agents[0].child?.wait(timeout: .seconds(10))
    _ = try await world.withStore { store in
      try await store.client.set(path, data: [0xFF, 0x00, 0xDE, 0xAD, 0xBE, 0xEF])
    }
    try world.startAgent(0)
    try await world.waitReady(0)

    // Ready, serving its other port, and saying which object it cannot read.
    let health = try Self.health(world)
    #expect(health["attachedPorts"] as? Int == 1, "\(health)")
    let corrupt = health["corruptObjects"] as? [[String: String]] ?? []
    #expect(corrupt.count == 1 && corrupt.first?["type"] == "Port", "\(health)")
    #expect(corrupt.first?["error"]?.contains("corrupt") == true, "\(health)")
    let metrics = try world.controlGet(0, "/metrics")
    #expect(metricValue(metrics, "midge_agent_topology_corrupt_objects") == 1, "\(metrics)")
    #expect(await world.pingsEventually(from: "vm-b2", to: "10.61.2.2"), "vm-b2 is served")
    #expect(!world.ping(from: "vm-a1", to: "10.61.1.3", count: 1), "vm-a1 cannot be, yet")

    // Control requests that crashed the agent are answered; the agent stays up.
    #expect(try world.controlGet(0, "/health?=").contains("\"ready\" : true"))
    let trace = try RawClient.exchange(
      port: world.agents[0].controlPort,
      "GET /trace?port=vm-b2&packet=tcp+:+%3E+10.77.1.3:80 HTTP/1.0\r\n\r\n")
    #expect(trace.status == 400, "\(trace.text)")
    #expect(world.agents[0].child?.isRunning == true)

    // The repair is taken without a restart: the port is attached and carries traffic.
    _ = try await world.withStore { store in try await store.client.set(path, data: good) }
    let repaired = await eventually(timeout: .seconds(15), every: .milliseconds(100)) {
      guard let health = try? Self.health(world) else { return false }
      return health["attachedPorts"] as? Int == 2
        && (health["corruptObjects"] as? [Any])?.isEmpty == true
    }
    #expect(repaired, "after the repair: \((try? world.controlGet(0, "/health")) ?? "")")
    #expect(await world.pingsEventually(from: "vm-a1", to: "10.61.1.3"), "vm-a1 is served again")
    #expect(
      metricValue(try world.controlGet(0, "/metrics"), "midge_agent_topology_corrupt_objects") == 0)
    // Reported once when found (and once when repaired), not on every retry.
    let log = world.agentLog(0)
    #expect(log.components(separatedBy: "cannot be decoded").count - 1 == 1, "\(log)")
  }
}
