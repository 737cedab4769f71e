import Foundation
import MidgeTestSupport
import NSDB
import Testing
import Topology
import ZooKeeper

/// A secured NSDB with real agents and packets: an open tree secured in place while
/// traffic flows, and what each identity may do afterwards.
@Suite("Agents end to end: a secured NSDB", .serialized, .requires(Requirement.agents))
struct SecurityEndToEndTests {
  @Test("securing an open tree in place: traffic flows throughout, then only the identities write")
  func secureInPlace() async throws {
    let world = try AgentWorld(zookeeper: try await ZooKeeperServer.shared(), credentials: true)
    defer { world.cleanUp() }
    try await world.start()
    #expect(await world.pingsEventually(from: "vm-a1", to: "10.61.2.2"))
    let before = world.midgectl(["acl", "show"], credentials: "")
    #expect(before.output.contains("(no identities: the tree is not secured)"), "\(before.output)")

    // 80 pings across hosts while the tree is secured under them.
    let log = world.directory + "/secure-ping.log"
    let ping = try ChildProcess(
      [
        "ip", "netns", "exec", world.vms["vm-a1"]!.namespace, "ping", "-n", "-q", "-c", "80", "-i",
        "0.05", "-W", "1", "10.61.2.2",
      ], output: log)
    defer { ping.stop() }
    try await Task.sleep(for: .milliseconds(500))
    let secured = world.midgectl(["acl", "apply", "--dir", world.identities!])
    #expect(secured.status == 0, "\(secured.output)")
    _ = await ping.wait(timeout: .seconds(20))
    let summary = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
    #expect(summary.contains("80 packets transmitted, 80 received"), "\(summary)")

    // Nothing is open, and nothing the agents made afterwards is either.
    #expect(
      await world.pingsEventually(from: "vm-b1", to: "10.61.1.2"),
      "\(world.agentLog(0).suffix(3000))\n---\n\(world.agentLog(1).suffix(3000))")
    let audit = world.midgectl(["acl", "show"])
    #expect(audit.output.contains("0 open to anyone; 0 not as the policy says"), "\(audit.output)")

    // Without credentials: a clear error. As an agent: models are refused.
    let anonymous = world.midgectl(["get", "chains"], credentials: "")
    #expect(anonymous.status != 0)
    #expect(anonymous.output.contains("is secured and midgectl has no credentials"))
    let changed = world.topologyYAML().replacingOccurrences(
      of: "chains:\n", with: "chains:\n  - name: planted\n    rules:\n      - {action: accept}\n")
    #expect(changed != world.topologyYAML())
    let file = world.directory + "/changed.yaml"
    try changed.write(toFile: file, atomically: true, encoding: .utf8)
    let asAgent = world.midgectl(["apply", "-f", file], credentials: "host-host-1.credentials")
    #expect(asAgent.status != 0)
    #expect(asAgent.output.contains("this needs the admin identity"), "\(asAgent.output)")
    #expect(!world.midgectl(["get", "chains"]).output.contains("planted"), "nothing changed")

    // An agent restarted on the secured tree comes back and serves its ports.
    world.agents[0].child?.signal(SIGTERM)
    _ = await world.agents[0].child?.wait(timeout: .seconds(10))
    try world.startAgent(0)
    try await world.waitReady(0)
    try await world.waitActive(["vm-a1", "vm-b2"])
    #expect(await world.pingsEventually(from: "vm-a1", to: "10.61.2.2"))
  }
}
