import Foundation
import Glibc
import MidgeTestSupport
import NSDB
import Testing
import Topology
import TopologyFile

@Suite(
  "Agents end to end: learned state and session expiry",
  .serialized, .requires(Requirement.agents))
struct AgentStateTests {
  @Test(
    "a learned MAC is in the bridge's MAC table while flows use it, and leaves after they expire")
  func macRetention() async throws {
    let world = try AgentWorld(
      zookeeper: try await ZooKeeperServer.shared(),
      agentArguments: ["--flow-idle-timeout", "1", "--mac-retention", "1"])
    defer { world.cleanUp() }
    try await world.start()
    #expect(await world.pingsEventually(from: "vm-a1", to: "10.61.1.3"))
    try await world.withStore { store in
      let table = MACTable.macTable(
        client: store.client, paths: store.paths, bridge: TopologyFile.id(.bridge, "tenant-a"),
        logger: world.logger)
      let vmA1 = try #require(try await store.getAll(Port.self).first { $0.name == "vm-a1" })
      let learned = try await eventually(timeout: .seconds(5)) {
        try await table.snapshot().values.contains(vmA1.id)
      }
      #expect(learned, "vm-a1's MAC was never written to tenant-a's MAC table")
      // No traffic now: the flows idle out after 1 s, the entry 1 s after that.
      let withdrawn = try await eventually(timeout: .seconds(10), every: .milliseconds(200)) {
        try await !table.snapshot().values.contains(vmA1.id)
      }
      #expect(withdrawn, "vm-a1's MAC stayed in the table after its flows expired")
    }
    #expect(await world.pingsEventually(from: "vm-a1", to: "10.61.1.3"), "traffic learns it again")
  }

  @Test(
    "an agent frozen past its session timeout loses its ports, then re-registers and serves them again"
  )
  func sessionExpiry() async throws {
    let world = try AgentWorld(zookeeper: try await ZooKeeperServer.shared())
    defer { world.cleanUp() }
    try await world.start()
    #expect(await world.pingsEventually(from: "vm-a1", to: "10.61.1.3"))
    let agent = try #require(world.agents[1].child)
    agent.signal(SIGSTOP)
    defer { agent.signal(SIGCONT) }
    try await world.withStore { store in
      let ports = PortState(client: store.client, paths: store.paths, logger: world.logger)
      let hosts = HostState(client: store.client, paths: store.paths, logger: world.logger)
      let vmA2 = try #require(try await store.getAll(Port.self).first { $0.name == "vm-a2" })
      let host2 = TopologyFile.id(.host, "host-2")
      let expired = try await eventually(timeout: .seconds(world.sessionTimeout + 5)) {
        let inactive = try await ports.activeState(vmA2.id) == nil
        let alive = try await hosts.isAlive(host2)
        return inactive && !alive
      }
      #expect(expired, "the frozen agent's session never expired")
      agent.signal(SIGCONT)
      let back = try await eventually(timeout: .seconds(15)) {
        let active = try await ports.activeState(vmA2.id) != nil
        let alive = try await hosts.isAlive(host2)
        return active && alive
      }
      #expect(back, "the agent did not re-assert its host and port after the expiry")
    }
    #expect(
      await world.pingsEventually(from: "vm-a1", to: "10.61.1.3"), "traffic after re-registration")
    let metrics = try world.controlGet(1, "/metrics")
    #expect(metricValue(metrics, "midge_agent_zookeeper_session_expiries_total") == 1)
  }
}
