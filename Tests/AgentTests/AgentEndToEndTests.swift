import Foundation
import Glibc
import MidgeTestSupport
import NSDB
import Testing
import Topology
import TopologyFile

/// Replies in `ping -D` output, as (timestamp, icmp_seq).
func replies(_ output: String) -> [(time: Double, seq: Int)] {
  output.split(separator: "\n").compactMap { line in
    guard line.hasPrefix("["), let close = line.firstIndex(of: "]"),
      let time = Double(line[line.index(after: line.startIndex)..<close]),
      let range = line.range(of: "icmp_seq=")
    else { return nil }
    let digits = line[range.upperBound...].prefix { $0.isNumber }
    guard let seq = Int(digits) else { return nil }
    return (time, seq)
  }
}

@Suite(
  "Agents end to end: two midge-agent processes, VM namespaces, real packets",
  .serialized, .requires(Requirement.agents))
struct AgentEndToEndTests {
  @Test(
    "switched and routed pings across agents pass, the filtered pair is blocked, 8 MB of TCP arrive intact"
  )
  func traffic() async throws {
    let world = try AgentWorld(zookeeper: try await ZooKeeperServer.shared())
    defer { world.cleanUp() }
    try await world.start()
    #expect(await world.pingsEventually(from: "vm-a1", to: "10.61.1.3"), "same bridge, two agents")
    #expect(await world.pingsEventually(from: "vm-a1", to: "10.61.2.2"), "routed, two agents")
    #expect(await world.pingsEventually(from: "vm-b2", to: "10.61.1.2"), "routed, one agent")
    #expect(await world.pingsEventually(from: "vm-a2", to: "10.61.2.2"), "vm-a2 reaches vm-b1")
    #expect(!world.ping(from: "vm-a2", to: "10.61.2.3", count: 3), "the chain blocks a2 → b2")

    let transfer = TCPTransfer(size: 8 << 20)
    let result = try await transfer.run(
      server: world.vms["vm-b1"]!.namespace, client: world.vms["vm-a1"]!.namespace,
      address: "10.61.2.2", port: 5001, timeout: .seconds(20))
    #expect(result.intact, "received \(result.bytes) of \(8 << 20) bytes (\(result.error ?? "ok"))")

    let flows = try world.controlGet(0, "/flows")
    #expect(flows.contains("encap(key="), "agent 1 tunnels flows to agent 2")
    let metrics = try world.controlGet(0, "/metrics")
    #expect((metricValue(metrics, "midge_agent_simulations_total") ?? 0) > 0, "\(metrics)")
    #expect((metricValue(metrics, "midge_datapath_flows") ?? 0) > 0, "the flow-table size gauge")
    // The blocked pings were dropped by a rule on host-2 (vm-a2's inbound filter): counted
    // by reason, and traced with the chain's name.
    let peer = try world.controlGet(1, "/metrics")
    let ruleDrops = metricValue(peer, #"midge_agent_simulated_drops_total{reason="rule_drop"}"#)
    #expect((ruleDrops ?? 0) >= 1, "\(peer)")
    let trace = try world.controlGet(1, "/trace?port=vm-a2&packet=icmp+10.61.1.3+%3E+10.61.2.3")
    #expect(trace.contains("'block-a2-to-b2'"), "\(trace)")
  }

  /// Agent `index`'s `/ports` row for port `name`, or nil.
  func portRow(_ world: AgentWorld, _ index: Int, _ name: String) -> [String: Any]? {
    guard let body = try? world.controlGet(index, "/ports"),
      let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
      let rows = object["ports"] as? [[String: Any]]
    else { return nil }
    return rows.first { $0["name"] as? String == name }
  }

  @Test(
    "apply moves vm-a1's binding from host-1 to host-2: host-1 detaches it, host-2 attaches and activates it, and traffic to and from it flows again"
  )
  func portMoves() async throws {
    let world = try AgentWorld(zookeeper: try await ZooKeeperServer.shared())
    defer { world.cleanUp() }
    try await world.start()
    #expect(await world.pingsEventually(from: "vm-a1", to: "10.61.2.3"), "vm-a1 → vm-b2")
    let port = TopologyFile.id(.port, "vm-a1")
    let (host1, host2) = (TopologyFile.id(.host, "host-1"), TopologyFile.id(.host, "host-2"))

    let moved = world.topologyYAML().replacingOccurrences(
      of: "{name: vm-a1, host: host-1,", with: "{name: vm-a1, host: host-2,")
    #expect(moved != world.topologyYAML())
    let movedAt = ContinuousClock.now
    try await world.withStore { store in
      let plan = try await store.apply(try TopologyFile.parse(moved), prune: false)
      #expect(plan.description.contains("~ Port vm-a1: host host-1 -> host-2"), "\(plan)")
      #expect(try await store.get(Host.self, host1).portIds.contains(port) == false)
      #expect(try await store.get(Host.self, host2).portIds.contains(port))
    }

    // The old host detaches the port and withdraws its activity; the new one attaches it
    // and publishes it as active on host-2.
    let served = try await world.withStore { store in
      let state = PortState(client: store.client, paths: store.paths, logger: world.logger)
      return try await eventually(timeout: .seconds(10), every: .milliseconds(50)) {
        try await state.activeState(port)?.host == host2
      }
    }
    let servedAfter = ContinuousClock.now - movedAt
    #expect(
      served,
      "vm-a1 never became active on host-2; host-1's log:\n\(world.agentLog(0).suffix(3000))\nhost-2's log:\n\(world.agentLog(1).suffix(3000))"
    )
    let attached = await eventually(timeout: .seconds(5), every: .milliseconds(50)) {
      portRow(world, 1, "vm-a1")?["attached"] as? Bool == true
        && portRow(world, 0, "vm-a1")?["attached"] as? Bool != true
    }
    #expect(
      attached,
      "host-1: \(portRow(world, 0, "vm-a1") ?? [:]); host-2: \(portRow(world, 1, "vm-a1") ?? [:])")
    #expect(await world.pingsEventually(from: "vm-a1", to: "10.61.1.3"), "vm-a1 → vm-a2, now local")
    #expect(await world.pingsEventually(from: "vm-a1", to: "10.61.2.3"), "vm-a1 → vm-b2 on host-1")
    #expect(await world.pingsEventually(from: "vm-b2", to: "10.61.1.2"), "vm-b2 on host-1 → vm-a1")
    // And it stays so: nothing takes the activity back.
    try await Task.sleep(for: .seconds(1))
    let stillOn = try await world.withStore { store in
      let state = PortState(client: store.client, paths: store.paths, logger: world.logger)
      return try await state.activeState(port)?.host
    }
    #expect(stillOn == host2)
    print("vm-a1 active on its new host \(servedAfter) after the apply returned")
  }

  @Test("a DROP rule stops an established flow within a second; removing it lets traffic through")
  func dropRule() async throws {
    let world = try AgentWorld(zookeeper: try await ZooKeeperServer.shared())
    defer { world.cleanUp() }
    try await world.start()
    #expect(await world.pingsEventually(from: "vm-a1", to: "10.61.1.3"))

    let output = NSTemporaryDirectory() + "midge-ping-\(world.suffix).out"
    defer { unlink(output) }
    let ping = try ChildProcess(
      [
        "ip", "netns", "exec", world.vms["vm-a1"]!.namespace, "ping", "-D", "-n", "-i", "0.05",
        "-c", "120", "-W", "1", "10.61.1.3",
      ], output: output)
    defer { ping.stop() }
    try await Task.sleep(for: .seconds(1))
    let blocked = world.topologyYAML().replacingOccurrences(
      of: "      - {action: drop, nwSrc: 10.61.1.3/32, nwDst: 10.61.2.3/32}",
      with:
        "      - {action: drop, nwSrc: 10.61.1.3/32, nwDst: 10.61.1.2/32}\n      - {action: drop, nwSrc: 10.61.1.3/32, nwDst: 10.61.2.3/32}"
    )
    #expect(blocked != world.topologyYAML())
    try await world.withStore { store in
      _ = try await store.apply(try TopologyFile.parse(blocked), prune: true)
    }
    let dropAt = Date().timeIntervalSince1970
    try await Task.sleep(for: .seconds(2))
    // The removal takes effect when it commits, which is before `apply` returns.
    let allowFrom = Date().timeIntervalSince1970
    try await world.withStore { store in
      _ = try await store.apply(try TopologyFile.parse(world.topologyYAML()), prune: true)
    }
    let allowAt = Date().timeIntervalSince1970
    await ping.wait(timeout: .seconds(10))
    let seen = replies((try? String(contentsOfFile: output, encoding: .utf8)) ?? "")
    let before = seen.filter { $0.time < dropAt }
    let blockedWindow = seen.filter { $0.time > dropAt + 1 && $0.time < allowFrom }
    let after = seen.filter { $0.time > allowAt + 1 }
    let lastThrough = seen.filter { $0.time >= dropAt && $0.time < allowFrom }.map(\.time).max()
    #expect(before.count > 10, "the flow was established before the rule")
    #expect(
      blockedWindow.isEmpty,
      "\(blockedWindow.count) replies came more than 1 s after the DROP rule; host-1's log:\n\(world.agentLog(0).suffix(4000))"
    )
    #expect(after.count > 10, "traffic resumed after the rule was removed (\(after.count) replies)")
    if let lastThrough {
      print("drop rule took effect after at most \(Int((lastThrough - dropAt) * 1000)) ms")
    }
  }

  @Test(
    "SIGKILL of an agent: after the session timeout its flows and ports are gone at the peer; a restart restores traffic"
  )
  func agentKilled() async throws {
    let world = try AgentWorld(zookeeper: try await ZooKeeperServer.shared())
    defer { world.cleanUp() }
    try await world.start()
    let peerTunnel = "to=127.0.0.1:\(world.agents[1].tunnelPort)"
    // A flow towards the peer exists right after a ping (a MAC learned meanwhile may
    // replace it, hence the retries).
    let tunnelling = await eventually(timeout: .seconds(10), every: .milliseconds(100)) {
      world.ping(from: "vm-a1", to: "10.61.1.3", count: 1)
        && ((try? world.controlGet(0, "/flows"))?.contains(peerTunnel) ?? false)
    }
    #expect(tunnelling, "agent 1 never tunnelled to agent 2")

    let killedAt = ContinuousClock.now
    world.agents[1].child?.signal(SIGKILL)
    let gone = await eventually(timeout: .seconds(world.sessionTimeout + 5)) {
      let flows = (try? world.controlGet(0, "/flows")) ?? peerTunnel
      guard let body = try? world.controlGet(0, "/ports"),
        let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
        let rows = object["ports"] as? [[String: Any]]
      else { return false }
      // host-2's ports (vm-a2, which agent 1 loaded for the pings, and vm-b1 if loaded)
      // are no longer active anywhere, as agent 1 sees them.
      let stillActive = rows.filter {
        ["vm-a2", "vm-b1"].contains($0["name"] as? String) && $0["activeOn"] != nil
      }
      let known = rows.contains { $0["name"] as? String == "vm-a2" }
      return !flows.contains(peerTunnel) && known && stillActive.isEmpty
    }
    #expect(gone, "agent 1 still tunnels to, or sees ports on, the killed agent")
    print("peer's flows and ports gone \(ContinuousClock.now - killedAt) after SIGKILL")
    try await world.withStore { store in
      let ports = try await store.getAll(Port.self)
      let state = PortState(client: store.client, paths: store.paths, logger: world.logger)
      for name in ["vm-a2", "vm-b1"] {
        let port = try #require(ports.first { $0.name == name })
        #expect(try await state.activeState(port.id) == nil, "\(name) still active")
      }
    }
    // The next packets towards the dead host's VM reach agent 1 as misses (the flows that
    // tunnelled them were removed) and are simulated against the port's state: inactive,
    // so no flow leads to the killed agent's tunnel endpoint again. A ping failing alone
    // would prove nothing: with its agent dead, vm-a2 cannot answer whatever agent 1 does.
    func simulations() throws -> Double {
      metricValue(try world.controlGet(0, "/metrics"), "midge_agent_simulations_total") ?? -1
    }
    let simulatedBefore = try simulations()
    #expect(!world.ping(from: "vm-a1", to: "10.61.1.3", count: 2), "vm-a2 answered")
    let simulatedAfter = try simulations()
    #expect(
      simulatedBefore >= 0 && simulatedAfter > simulatedBefore,
      "agent 1 simulated nothing for the pings after the kill (\(simulatedBefore) → \(simulatedAfter))"
    )
    let flowsAfter = try world.controlGet(0, "/flows")
    #expect(
      !flowsAfter.contains(peerTunnel),
      "agent 1 tunnels to the killed agent again after simulating:\n\(flowsAfter)")

    try world.startAgent(1)
    try await world.waitReady(1)
    #expect(
      await world.pingsEventually(from: "vm-a1", to: "10.61.1.3"), "traffic back after restart")
  }

  @Test(
    "ZooKeeper restarted: pings keep passing throughout; afterwards the agents follow changes again"
  )
  func zookeeperRestart() async throws {
    try await ZooKeeperServer.with { server in
      let world = try AgentWorld(zookeeper: server, sessionTimeout: 4)
      defer { world.cleanUp() }
      try await world.start()
      #expect(await world.pingsEventually(from: "vm-a1", to: "10.61.2.2"))

      let output = NSTemporaryDirectory() + "midge-ping-\(world.suffix).out"
      defer { unlink(output) }
      let ping = try ChildProcess(
        [
          "ip", "netns", "exec", world.vms["vm-a1"]!.namespace, "ping", "-D", "-n", "-i", "0.1",
          "-c", "40", "-W", "1", "10.61.2.2",
        ], output: output)
      defer { ping.stop() }
      try await Task.sleep(for: .milliseconds(500))
      try await server.kill(member: 1)
      try await Task.sleep(for: .milliseconds(500))
      try await server.restart(member: 1)
      await ping.wait(timeout: .seconds(15))
      let seen = replies((try? String(contentsOfFile: output, encoding: .utf8)) ?? "")
      #expect(seen.count >= 39, "only \(seen.count) of 40 pings answered across the restart")

      // Resynchronised: new flows are simulated, and a rule written after the restart
      // reaches the agents.
      #expect(await world.pingsEventually(from: "vm-a2", to: "10.61.2.2"))
      let blocked = world.topologyYAML().replacingOccurrences(
        of: "      - {action: accept}", with: "      - {action: drop, nwDst: 10.61.2.2/32}")
      try await world.withStore { store in
        _ = try await store.apply(try TopologyFile.parse(blocked), prune: true)
      }
      let stopped = await eventually(timeout: .seconds(10), every: .milliseconds(200)) {
        !world.ping(from: "vm-a2", to: "10.61.2.2", count: 1)
      }
      #expect(stopped, "a rule written after the ZooKeeper restart did not take effect")
    }
  }
}
