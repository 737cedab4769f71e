import Foundation
import Glibc
import MidgeTestSupport
import NSDB
import Testing
import Topology

/// `midge-supervisor`: a killed agent's session is closed at once, so its ports fail
/// over without waiting for the session timeout; a clean stop passes through.
@Suite(
  "midge-supervisor: a dead agent's session closed at once",
  .serialized, .requires(Requirement.supervisedAgents))
struct SupervisorTests {
  /// How long after `start` vm-a2 (served by host-2) is seen inactive in the NSDB;
  /// nil if not within `limit`.
  private func inactiveAfter(
    _ world: AgentWorld, since start: ContinuousClock.Instant, limit: Duration
  ) async throws -> Duration? {
    try await world.withStore { store in
      let port = try #require(try await store.getAll(Port.self).first { $0.name == "vm-a2" })
      let state = PortState(client: store.client, paths: store.paths, logger: world.logger)
      let gone = try await eventually(timeout: limit, every: .milliseconds(10)) {
        try await state.activeState(port.id) == nil
      }
      return gone ? ContinuousClock.now - start : nil
    }
  }

  @Test("SIGKILL of a supervised agent: its ports go inactive long before the session timeout")
  func killed() async throws {
    // A 10 s session: without the supervisor the port would stay active about 10 s.
    let world = try AgentWorld(
      zookeeper: try await ZooKeeperServer.shared(), sessionTimeout: 10, supervised: true)
    defer { world.cleanUp() }
    try await world.start()
    let agent = try #require(world.agentPID(1))
    let killedAt = ContinuousClock.now
    kill(agent, SIGKILL)
    let after = try await inactiveAfter(world, since: killedAt, limit: .seconds(5))
    #expect(after != nil, "the killed agent's port stayed active")
    // The target is 300 ms; 2 s leaves room for a loaded machine and is still a fifth of
    // the session timeout it replaces.
    #expect(
      (after ?? .seconds(99)) < .seconds(2),
      "inactive \(after.map { "\($0)" } ?? "never") after SIGKILL")
    print("supervised SIGKILL: vm-a2 inactive \(after.map { "\($0)" } ?? "never") after the kill")
    #expect(await world.agents[1].child?.wait(timeout: .seconds(5)) == 128 + SIGKILL)
    #expect(world.agentLog(1).contains("closed the dead agent's session"), "\(world.agentLog(1))")

    // Restarted, it serves again.
    try world.startAgent(1)
    try await world.waitReady(1)
    #expect(
      await world.pingsEventually(from: "vm-a1", to: "10.61.1.3"), "traffic back after restart")
  }

  @Test("SIGTERM to the supervisor stops the agent gracefully; nothing is left to close")
  func stopped() async throws {
    let world = try AgentWorld(
      zookeeper: try await ZooKeeperServer.shared(), sessionTimeout: 10, supervised: true)
    defer { world.cleanUp() }
    try await world.start()
    let stoppedAt = ContinuousClock.now
    world.agents[1].child?.signal(SIGTERM)
    let after = try await inactiveAfter(world, since: stoppedAt, limit: .seconds(5))
    #expect((after ?? .seconds(99)) < .seconds(2), "inactive \(after.map { "\($0)" } ?? "never")")
    print("graceful stop: vm-a2 inactive \(after.map { "\($0)" } ?? "never") after SIGTERM")
    #expect(await world.agents[1].child?.wait(timeout: .seconds(10)) == 0)
    let log = world.agentLog(1)
    #expect(log.contains("agent stopped"), "\(log)")
    #expect(
      !log.contains("closed the dead agent's session"), "a clean stop leaves nothing to close")
  }
}
