import Foundation
import MidgeTestSupport
import Testing
import TopologyFile

@Suite(
  "Agents end to end: flow state between hosts",
  .serialized, .enabled(if: endToEndUnavailable() == nil, "\(endToEndUnavailable() ?? "")"))
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
      !metrics.contains("midge_agent_flow_state_received_total 0\n"), "host-2 got no flow state")
  }
}
