import Foundation
import Glibc
import MidgeTestSupport
import Testing
import TopologyFile

@Suite(
  "Agents end to end: flow state between hosts",
  .serialized, .requires(Requirement.agents))
struct FlowStateTests {
  @Test(
    "a chain that admits only return flow passes replies simulated on another host, and nothing else"
  )
  func returnFlowAcrossHosts() async throws {
    let world = try AgentWorld(zookeeper: try await ZooKeeperServer.shared())
    defer { world.cleanUp() }
    try await world.start()
    // vm-a2 (on host-2) may only answer (and ARP); vm-a1's (host-1) traffic is tracked.
    let original = world.topologyYAML()
    let rules =
      "      - {action: drop, nwSrc: 10.61.1.3/32, nwDst: 10.61.2.3/32}\n      - {action: accept}\n"
    let statefulRules =
      "      - {action: accept, dlType: 0x0806}\n      - {action: accept, returnFlow: true}\n"
      + "      - {action: drop}\n"
      + "  - name: track\n    rules:\n      - {action: accept, forwardFlow: true}\n"
      + "      - {action: accept}\n"
    var stateful = original.replacingOccurrences(of: rules, with: statefulRules)
    let a1 = "{name: vm-a1, host: host-1, interface: \(world.vms["vm-a1"]!.interface)}"
    stateful = stateful.replacingOccurrences(
      of: a1, with: String(a1.dropLast()) + ", inboundFilter: track}")
    #expect(stateful.contains("returnFlow") && stateful.contains("inboundFilter: track"))
    try await world.withStore { store in
      _ = try await store.apply(try TopologyFile.parse(stateful), prune: true)
    }
    #expect(
      await world.pingsEventually(from: "vm-a1", to: "10.61.1.3"),
      "vm-a2's replies (simulated on host-2) were not recognised as return flow")
    #expect(!world.ping(from: "vm-a2", to: "10.61.1.2", count: 2), "vm-a2 started a connection")
    let metrics = try world.controlGet(1, "/metrics")
    #expect(
      (metricValue(metrics, "midge_agent_flow_state_received_total") ?? 0) > 0,
      "host-2 got no flow state")
  }

  @Test("a restarted agent takes its connections' state back from the local flow-state log")
  func logSurvivesRestart() async throws {
    let world = try AgentWorld(zookeeper: try await ZooKeeperServer.shared())
    defer { world.cleanUp() }
    try await world.start()
    // vm-a1's traffic (host-1) is tracked; vm-b2 (host-1) may only answer.
    let a1 = "{name: vm-a1, host: host-1, interface: \(world.vms["vm-a1"]!.interface)}"
    let stateful = world.topologyYAML().replacingOccurrences(
      of: a1, with: String(a1.dropLast()) + ", inboundFilter: track}"
    ).replacingOccurrences(
      of: "chains:\n",
      with: "chains:\n  - name: track\n    rules:\n      - {action: accept, forwardFlow: true}\n")
    try await world.withStore { store in
      _ = try await store.apply(try TopologyFile.parse(stateful), prune: true)
    }
    #expect(await world.pingsEventually(from: "vm-a1", to: "10.61.2.3"))
    func conntrack() -> Int {
      let topology = (try? world.controlGet(0, "/topology")) ?? ""
      guard let range = topology.range(of: "\"conntrackEntries\" : ") else { return -1 }
      return Int(topology[range.upperBound...].prefix { $0.isNumber }) ?? -1
    }
    let before = conntrack()
    #expect(before > 0, "no conntrack entry after the ping")

    world.agents[0].child?.signal(SIGKILL)
    _ = await world.agents[0].child?.wait(timeout: .seconds(5))
    try world.startAgent(0)
    try await world.waitReady(0)
    let restored = await eventually(timeout: .seconds(5)) { conntrack() >= before }
    #expect(restored, "after the restart the agent knows \(conntrack()) of \(before) entries")
  }
}
