import Foundation
import MidgeTestSupport
import NSDB
import Testing
import Topology
import TopologyFile

/// The agent's topology cache: only what this host serves is loaded at start, the rest
/// on demand, and what goes unused is dropped again.
@Suite(
  "Agent topology cache: on-demand loading and eviction",
  .serialized, .requires(Requirement.agents))
struct TopologyCacheTests {
  /// The agent's `/topology` answer.
  private func topology(_ world: AgentWorld, _ index: Int) throws -> [String: Any] {
    let body = try world.controlGet(index, "/topology")
    let start = body.firstIndex(of: "{") ?? body.startIndex
    let object = try JSONSerialization.jsonObject(with: Data(body[start...].utf8))
    return object as? [String: Any] ?? [:]
  }

  @Test(
    "a cold agent holds only its own objects; traffic loads the path, idleness drops it, traffic reloads it"
  )
  func onDemand() async throws {
    let world = try AgentWorld(
      zookeeper: try await ZooKeeperServer.shared(),
      agentArguments: ["--topology-idle-timeout", "3", "--flow-idle-timeout", "1"])
    defer { world.cleanUp() }
    try await world.start()

    // 300 ports this host has nothing to do with.
    var crowd = "bridges:\n  - name: crowd\n    ports:\n"
    for index in 0..<300 { crowd += "      - {name: crowd-\(index)}\n" }
    try await world.withStore { store in
      _ = try await store.apply(try TopologyFile.parse(crowd), prune: false)
      #expect(try await store.getAll(Port.self).count > 300)
    }

    let cold = try topology(world, 0)
    // Its two ports, and at most what the VMs' own start-up chatter (IPv6 neighbour
    // discovery, flooded) needed: the other ports of their bridges and the router's.
    #expect((cold["ports"] as? Int ?? 999) <= 8, "host-1 serves vm-a1 and vm-b2: \(cold)")
    #expect(cold["pinned"] as? Int == 4, "host, tunnel zone, two ports: \(cold)")

    #expect(await world.pingsEventually(from: "vm-a1", to: "10.61.2.2"), "routed, two agents")
    let warm = try topology(world, 0)
    #expect(warm["routers"] as? [String] == ["edge"], "the path was loaded: \(warm)")
    #expect((warm["ports"] as? Int ?? 0) > 2)
    #expect((warm["ports"] as? Int ?? 999) < 20, "the crowd bridge stays out: \(warm)")

    // No traffic: flows expire after 1 s, then the objects they used go.
    let dropped = await eventually(timeout: .seconds(20), every: .milliseconds(250)) {
      guard let now = try? self.topology(world, 0) else { return false }
      return (now["routers"] as? [String])?.isEmpty == true && now["ports"] as? Int == 2
    }
    let after = try topology(world, 0)
    #expect(dropped, "unused objects were dropped: \(after)")
    let metrics = try world.controlGet(0, "/metrics")
    #expect((metricValue(metrics, "midge_agent_topology_evictions_total") ?? 0) > 0)

    #expect(await world.pingsEventually(from: "vm-a1", to: "10.61.2.2"), "reloaded on demand")
    #expect(try topology(world, 0)["routers"] as? [String] == ["edge"])
  }
}
