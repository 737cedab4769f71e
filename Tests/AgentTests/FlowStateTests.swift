import Addresses
import Foundation
import Glibc
import MidgeTestSupport
import NSDB
import Testing
import Topology
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

  @Test(
    "a closed connection's NAT binding expires and frees its port; an ICMP one with a longer timeout stays"
  )
  func expiryAfterClose() async throws {
    let world = try AgentWorld(
      zookeeper: try await ZooKeeperServer.shared(),
      agentArguments: ["--tcp-closing-timeout", "4", "--other-timeout", "120"])
    defer { world.cleanUp() }
    try await world.start()
    // The edge router masquerades tenant-a's traffic into tenant-b as its own address
    // there, 10.61.2.1, from a range of 100 ports.
    _ = try await Self.masquerade(world, ports: "20000-20099")
    #expect(await world.pingsEventually(from: "vm-a1", to: "10.61.2.3"))
    let transfer = TCPTransfer(size: 256 * 1024)
    let outcome = try await transfer.run(
      server: world.vms["vm-b2"]!.namespace, client: world.vms["vm-a1"]!.namespace,
      address: "10.61.2.3", port: 5301, timeout: .seconds(15))
    #expect(outcome.intact, "the transfer through SNAT failed: \(outcome.error ?? "short")")

    /// The entries of `/flowstate` on host-1, as (protocol, translation) pairs.
    func entries() -> [(Int, String)]? {
      guard let rows = Self.flowStateRows(world, 0) else { return nil }
      return rows.map { (($0["protocol"] as? Int) ?? -1, ($0["translation"] as? String) ?? "") }
    }
    let during = try #require(entries())
    #expect(
      during.contains { $0.0 == 6 && $0.1.hasPrefix("10.61.2.1:200") },
      "no TCP binding to the masquerade address right after the transfer: \(during)")
    #expect(during.contains { $0.0 == 1 }, "no ICMP binding after the pings: \(during)")

    // Closed with FIN: gone within the closing timeout plus a sweep or two.
    let expired = await eventually(timeout: .seconds(20), every: .milliseconds(250)) {
      guard let now = entries() else { return false }
      return !now.contains { $0.0 == 6 }
    }
    #expect(expired, "the closed connection's binding is still there: \(entries() ?? [])")
    let after = entries() ?? []
    #expect(after.contains { $0.0 == 1 }, "the ICMP binding (120 s timeout) went too: \(after)")
    let metrics = try world.controlGet(0, "/metrics")
    #expect((metricValue(metrics, "midge_agent_flow_state_expired_total") ?? 0) >= 1)
    // Its flows went with it; a new connection through the freed range works.
    let again = try await TCPTransfer(size: 64 * 1024).run(
      server: world.vms["vm-b2"]!.namespace, client: world.vms["vm-a1"]!.namespace,
      address: "10.61.2.3", port: 5302, timeout: .seconds(15))
    #expect(again.intact, "a new connection after the expiry failed: \(again.error ?? "short")")
  }

  @Test(
    "two hosts masquerading as one address lease different port blocks, and each uses only its own"
  )
  func leasedBlocksAcrossHosts() async throws {
    let world = try AgentWorld(zookeeper: try await ZooKeeperServer.shared())
    defer { world.cleanUp() }
    try await world.start()
    // As above: tenant-a leaves into tenant-b as 10.61.2.1. vm-a1 is on host-1, vm-a2 on
    // host-2: each host simulates its own VM's connections and picks their ports.
    _ = try await Self.masquerade(world, ports: "20000-29999")
    for (client, port) in [("vm-a1", UInt16(5401)), ("vm-a2", 5402)] {
      let outcome = try await TCPTransfer(size: 64 * 1024).run(
        server: world.vms["vm-b1"]!.namespace, client: world.vms[client]!.namespace,
        address: "10.61.2.2", port: port, timeout: .seconds(15))
      #expect(outcome.intact, "\(client) through SNAT: \(outcome.error ?? "short")")
    }

    let holders = try await world.withStore { store in
      try await NATLeases(client: store.client, paths: store.paths, logger: world.logger)
        .holders(of: IPv4Address(10, 61, 2, 1))
    }
    let hosts = Set(holders.values)
    #expect(hosts.count == 2, "blocks held: \(holders)")
    for (index, name) in ["host-1", "host-2"].enumerated() {
      let host = ID(name: "Host/\(name)")
      let own = Set(holders.filter { $0.value == host }.keys)
      let rows = try #require(Self.flowStateRows(world, index), "\(name) has no /flowstate")
      // Its own bindings; a peer's copies (replies it simulates) use the peer's blocks.
      let ports = rows.filter { $0["origin"] as? String == "local" }
        .compactMap { $0["translation"] as? String }
        .filter { $0.hasPrefix("10.61.2.1:") }
        .compactMap { UInt16($0.dropFirst("10.61.2.1:".count)) }
      #expect(!ports.isEmpty, "\(name) made no binding")
      for port in ports {
        #expect(own.contains(port / 64), "\(name) used port \(port) outside its blocks \(own)")
      }
    }
  }

  @Test("a VM whose port moves to another host keeps its TCP connection through SNAT")
  func migrationKeepsConnection() async throws {
    let world = try AgentWorld(zookeeper: try await ZooKeeperServer.shared())
    defer { world.cleanUp() }
    try await world.start()
    let masquerade = try await Self.masquerade(world, ports: "20000-29999")
    #expect(await world.pingsEventually(from: "vm-a1", to: "10.61.2.3"))

    // vm-a1 (host-1) streams to vm-b2 (host-1) through SNAT; host-2 knows nothing of the
    // connection. Two seconds in, vm-a1's port moves to host-2.
    let bench = Requirement.productPath("midge-bench")
    let served = NSTemporaryDirectory() + "midge-migrate-serve-\(world.suffix).json"
    let sent = NSTemporaryDirectory() + "midge-migrate-send-\(world.suffix).json"
    defer {
      unlink(served)
      unlink(sent)
    }
    let server = try ChildProcess(
      [
        "ip", "netns", "exec", world.vms["vm-b2"]!.namespace, bench, "stream", "serve", "--port",
        "5501", "--seconds", "30",
      ], output: served)
    defer { server.stop() }
    try await Task.sleep(for: .milliseconds(500))
    let sender = try ChildProcess(
      [
        "ip", "netns", "exec", world.vms["vm-a1"]!.namespace, bench, "stream", "send", "--to",
        "10.61.2.3:5501", "--seconds", "6", "--rate", "200000",
      ], output: sent)
    defer { sender.stop() }
    try await Task.sleep(for: .seconds(2))
    let moved = masquerade.replacingOccurrences(
      of: "{name: vm-a1, host: host-1,", with: "{name: vm-a1, host: host-2,")
    #expect(moved != masquerade)
    try await world.withStore { store in
      _ = try await store.apply(try TopologyFile.parse(moved), prune: false)
    }
    let senderStatus = await sender.wait(timeout: .seconds(30))
    let serverStatus = await server.wait(timeout: .seconds(30))
    #expect(senderStatus == 0 && serverStatus == 0, "the stream did not end by itself")
    func report(_ path: String) -> [String: Any] {
      let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
      let line = text.split(separator: "\n").last { $0.hasPrefix("{") } ?? ""
      return (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]) ?? [:]
    }
    let client = report(sent)
    let received = report(served)
    #expect(client["end"] as? String == "done", "sender: \(client)")
    #expect(received["end"] as? String == "closed", "receiver: \(received)")
    #expect(
      (received["bytes"] as? Int) == (client["sent"] as? Int) && (client["sent"] as? Int ?? 0) > 0,
      "sent \(client), received \(received)")
    print("migration: the stream's longest gap was \(received["longestGapMs"] ?? "?") ms")
    // host-2 carried on with host-1's binding: one binding for the connection, not two.
    let rows = try #require(Self.flowStateRows(world, 1), "host-2 has no /flowstate")
    let bindings = rows.filter {
      ($0["entry"] as? String)?.contains("snat 10.61.1.2:") == true
        && ($0["entry"] as? String)?.contains("10.61.2.3:5501") == true
    }
    #expect(bindings.count == 1, "host-2's bindings for the stream: \(bindings)")

    // host-2 owns the connection now, from a block host-1 leased: the block stays leased
    // by a live host that knows the binding, and when host-1 dies host-2 leases it.
    let binding = try #require(bindings.first)
    #expect(binding["origin"] as? String == "local", "host-2 does not own it: \(binding)")
    let translation = try #require(binding["translation"] as? String)
    let natPort = try #require(UInt16(translation.dropFirst("10.61.2.1:".count)))
    func holder() async throws -> ID? {
      try await world.withStore { store in
        try await NATLeases(client: store.client, paths: store.paths, logger: world.logger)
          .holders(of: IPv4Address(10, 61, 2, 1))[natPort / 64]
      }
    }
    let before = try await holder()
    #expect(before == ID(name: "Host/host-1") || before == ID(name: "Host/host-2"))
    world.agents[0].child?.signal(SIGKILL)
    _ = await world.agents[0].child?.wait(timeout: .seconds(5))
    let adopted = try await eventually(timeout: .seconds(40)) {
      try await holder() == ID(name: "Host/host-2")
    }
    let last = try await holder()
    #expect(
      adopted, "block \(natPort / 64) of a live binding is held by \(String(describing: last))")
  }

  @Test(
    "a live connection's state is refreshed on the peer that holds a copy; it goes once traffic stops"
  )
  func refreshKeepsPeerCopy() async throws {
    let world = try AgentWorld(
      zookeeper: try await ZooKeeperServer.shared(), agentArguments: ["--udp-timeout", "4"])
    defer { world.cleanUp() }
    try await world.start()
    _ = try await Self.masquerade(world, ports: "20000-29999")
    #expect(await world.pingsEventually(from: "vm-a1", to: "10.61.2.2"))
    // One-way UDP from vm-a1 (host-1) to vm-b1 (host-2) for 10 s: host-1 makes the
    // binding and sends host-2 a copy, which host-2 never uses (no replies), so only
    // host-1's refresh keeps it past its 4 s timeout.
    let sender = try ChildProcess(
      [
        "ip", "netns", "exec", world.vms["vm-a1"]!.namespace, "bash", "-c",
        // One socket, so one connection (a write after vm-b1's port-unreachable fails,
        // the next one goes).
        "exec 3>/dev/udp/10.61.2.2/9999; for i in $(seq 50); do echo x >&3 2>/dev/null; sleep 0.2; done",
      ], output: "/dev/null")
    defer { sender.stop() }
    func copyOnHost2() -> Bool {
      guard let rows = Self.flowStateRows(world, 1) else { return false }
      return rows.contains {
        $0["origin"] as? String == "peer"
          && ($0["entry"] as? String)?.contains("snat 10.61.1.2:") == true
          && ($0["entry"] as? String)?.contains("10.61.2.2:9999") == true
      }
    }
    let arrived = await eventually(timeout: .seconds(5), every: .milliseconds(100)) {
      copyOnHost2()
    }
    #expect(arrived, "host-2 never got the binding")
    try await Task.sleep(for: .seconds(7))
    #expect(copyOnHost2(), "host-2's copy expired while the connection was live")
    let metrics = try world.controlGet(0, "/metrics")
    #expect((metricValue(metrics, "midge_agent_flow_state_refreshed_total") ?? 0) > 0)
    _ = await sender.wait(timeout: .seconds(10))
    // Traffic stopped: no refresh, and the copy goes after its timeout (plus sweeps).
    let gone = await eventually(timeout: .seconds(12), every: .milliseconds(250)) {
      !copyOnHost2()
    }
    #expect(gone, "host-2's copy outlived the connection")
  }

  /// Applies the world's topology with the edge router masquerading tenant-a's traffic
  /// into tenant-b as its own address there, 10.61.2.1, from the port range `ports`, and
  /// returns that topology.
  static func masquerade(_ world: AgentWorld, ports: String) async throws -> String {
    let topology = world.topologyYAML().replacingOccurrences(
      of: "chains:\n",
      with: """
        chains:
          - name: masq
            rules:
              - {action: snat, outPorts: [edge-b], nwSrc: 10.61.1.0/24, targets: [{address: 10.61.2.1, ports: \(ports)}]}
              - {action: accept}
          - name: unmasq
            rules:
              - {action: rev_snat, inPorts: [edge-b]}
              - {action: accept}

        """
    ).replacingOccurrences(
      of: "  - name: edge\n",
      with: "  - name: edge\n    outboundFilter: masq\n    inboundFilter: unmasq\n")
    #expect(topology.contains("outboundFilter: masq"))
    try await world.withStore { store in
      _ = try await store.apply(try TopologyFile.parse(topology), prune: true)
    }
    return topology
  }

  /// The entries `/flowstate` of agent `index` lists; nil when it does not answer JSON.
  static func flowStateRows(_ world: AgentWorld, _ index: Int) -> [[String: Any]]? {
    guard let text = try? world.controlGet(index, "/flowstate"),
      let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
    else { return nil }
    return object["entries"] as? [[String: Any]]
  }
}
