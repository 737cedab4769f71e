import Addresses
import Agent
import Datapath
import Foundation
import MidgeTestSupport
import NSDB
import Packets
import Simulation
import Testing
import Topology
import TopologyFile
import ZooKeeper

/// A secured NSDB with real agents and packets: an open tree secured in place while
/// traffic flows, and what each identity may do afterwards.
@Suite("Agents end to end: a secured NSDB", .serialized, .requires(Requirement.agents))
struct SecurityEndToEndTests {
  @Test("securing an open tree in place: traffic flows throughout, then only the identities write")
  func secureInPlace() async throws {
    let world = try AgentWorld(
      zookeeper: try await ZooKeeperServer.shared(), secureAtStart: false)
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

extension SecurityEndToEndTests {
  /// Counts, inside `vm`, the UDP datagrams to port 9 whose payload is `forged`, for
  /// `seconds`; `send` runs once the listener is up.
  static func forgedArrivals(
    _ world: AgentWorld, _ vm: String, seconds: Double, send: () throws -> Void
  ) async throws -> Int? {
    let output = world.directory + "/listener-\(UUID().uuidString.prefix(6)).txt"
    defer { unlink(output) }
    let script = """
      import socket, time
      s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
      s.bind(("0.0.0.0", 9))
      s.settimeout(0.1)
      print("up", flush=True)
      n, end = 0, time.time() + \(seconds)
      while time.time() < end:
          try:
              n += s.recv(100) == b"forged"
          except OSError:
              pass
      print(n, flush=True)
      """
    let listener = try ChildProcess(
      ["ip", "netns", "exec", world.vms[vm]!.namespace, "python3", "-c", script], output: output)
    defer { listener.stop() }
    let up = await eventually(timeout: .seconds(5)) {
      ((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").hasPrefix("up")
    }
    guard up else { return nil }
    try send()
    _ = await listener.wait(timeout: .seconds(seconds + 5))
    let lines = ((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").split(
      separator: "\n")
    return lines.count == 2 ? Int(lines[1]) : nil
  }

  static func rejected(_ world: AgentWorld, _ index: Int, _ reason: String) -> Double {
    let text = (try? world.controlGet(index, "/metrics")) ?? ""
    return metricValue(text, "midge_agent_tunnel_rejected_total{reason=\"\(reason)\"}") ?? -1
  }

  @Test(
    "a datagram from an address that is no host's endpoint never reaches a VM; a forged flow-state message creates nothing"
  )
  func forgedDatagrams() async throws {
    let world = try AgentWorld(zookeeper: try await ZooKeeperServer.shared())
    defer { world.cleanUp() }
    try await world.start()
    #expect(await world.pingsEventually(from: "vm-a1", to: "10.61.2.2"))
    let key = try await world.withStore { store in
      try await store.getAll(Port.self).first { $0.name == "vm-a1" }?.tunnelKey
    }
    let macText = runCommand([
      "ip", "netns", "exec", world.vms["vm-a1"]!.namespace, "cat", "/sys/class/net/eth0/address",
    ]).output.trimmingCharacters(in: .whitespacesAndNewlines)
    let vmMAC = try #require(try? MACAddress(parsing: macText), "vm-a1's MAC: \(macText)")
    let frame = try PacketBuilder.udp(
      ethernet: EthernetHeader(destination: vmMAC, source: MACAddress(2, 0, 0, 0, 9, 9)),
      ipv4: IPv4Header(source: IPv4Address(10, 61, 1, 99), destination: IPv4Address(10, 61, 1, 2)),
      sourcePort: 999, destinationPort: 9, payload: Array("forged".utf8))
    let datagram = UnderlayForger.vxlan(vni: try #require(key), frame)
    let host1 = world.agents[0].tunnelPort
    let host2 = world.agents[1].tunnelPort

    // From no host's endpoint: dropped and counted, the VM sees nothing.
    let rejectedBefore = Self.rejected(world, 0, "unknown_source")
    let fromStranger = try await Self.forgedArrivals(world, "vm-a1", seconds: 1.5) {
      for _ in 0..<10 { try UnderlayForger.send(datagram, to: host1) }
    }
    #expect(
      fromStranger == 0, "forged datagrams that reached the VM: \(String(describing: fromStranger))"
    )
    #expect(
      await eventually(timeout: .seconds(3)) {
        Self.rejected(world, 0, "unknown_source") >= rejectedBefore + 10
      }, "the rejections are not counted")
    // The same datagram from host-2's endpoint is delivered: the check above can fail.
    let fromPeer = try await Self.forgedArrivals(world, "vm-a1", seconds: 1.5) {
      for _ in 0..<10 { try UnderlayForger.send(datagram, to: host1, spoofing: host2) }
    }
    #expect(
      (fromPeer ?? 0) >= 5,
      "control datagrams from a peer's endpoint that arrived: \(String(describing: fromPeer))")

    // Flow-state messages, once the zone has a key: a wrong MAC or none creates nothing.
    let rotated = world.midgectl(["acl", "rotate-key", "--zone", "default"])
    #expect(rotated.status == 0, "\(rotated.output)")
    let tuple = FlowTuple(
      source: IPv4Address(10, 61, 9, 9), destination: IPv4Address(10, 61, 9, 8), ipProtocol: 6,
      sourcePort: 4321, destinationPort: 80)
    let entry = StateChange.conntrack(ConntrackKey(tuple: tuple, device: ID(name: "Bridge/x")))
    let keys = try await world.withStore { store in
      try await store.tunnelKeys(TopologyFile.id(.tunnelZone, "default"))
    }
    let seal = FlowStateSeal(keys)
    #expect(seal.isEnabled)
    var forged = seal.seal(FlowStateMessage.encode([entry]))
    forged[forged.count - 1] ^= 0xFF
    let badBefore = Self.rejected(world, 0, "bad_mac")
    try await Task.sleep(for: .milliseconds(500))  // the agents follow the key list
    for message in [forged, FlowStateMessage.encode([entry])] {
      try UnderlayForger.send(
        UnderlayForger.vxlan(vni: DatapathSwitch.messageTunnelKey, message), to: host1,
        spoofing: host2)
    }
    try await Task.sleep(for: .milliseconds(300))
    func planted() -> Bool {
      (try? world.controlGet(0, "/flowstate"))?.contains("10.61.9.9") == true
    }
    #expect(!planted(), "a forged flow-state message made an entry")
    #expect(Self.rejected(world, 0, "bad_mac") >= badBefore + 2)
    // Sealed with the zone's key, the same message is taken: the check above can fail.
    try UnderlayForger.send(
      UnderlayForger.vxlan(
        vni: DatapathSwitch.messageTunnelKey, seal.seal(FlowStateMessage.encode([entry]))),
      to: host1, spoofing: host2)
    #expect(await eventually(timeout: .seconds(5)) { planted() })
  }

  @Test("tunnel keys rotate while new connections cross hosts through SNAT: none is lost")
  func rotationKeepsConnections() async throws {
    let world = try AgentWorld(zookeeper: try await ZooKeeperServer.shared())
    defer { world.cleanUp() }
    try await world.start()
    _ = try await FlowStateTests.masquerade(world, ports: "20000-29999")
    #expect(world.midgectl(["acl", "rotate-key", "--zone", "default"]).status == 0)
    #expect(await world.pingsEventually(from: "vm-a1", to: "10.61.2.2"))
    let rotations = Task.detached {
      (0..<3).map { _ in
        world.midgectl(["acl", "rotate-key", "--zone", "default", "--settle", "1"]).status
      }
    }
    var failures: [String] = []
    var connections = 0
    let deadline = ContinuousClock.now + .seconds(30)
    // Each connection's NAT binding is made on host-1 and must reach host-2, where the
    // reply is simulated: a refused flow-state message would break it.
    while connections < 40 && ContinuousClock.now < deadline {
      let outcome = try await TCPTransfer(size: 16 * 1024).run(
        server: world.vms["vm-b1"]!.namespace, client: world.vms["vm-a1"]!.namespace,
        address: "10.61.2.2", port: UInt16(5600 + connections % 50), timeout: .seconds(10))
      if !outcome.intact { failures.append(outcome.error ?? "short") }
      connections += 1
    }
    let statuses = await rotations.value
    #expect(statuses == [0, 0, 0], "rotations: \(statuses)")
    #expect(connections >= 20, "only \(connections) connections in 30 s")
    #expect(failures.isEmpty, "\(failures.count) of \(connections) connections failed: \(failures)")
    for index in 0..<2 {
      #expect(Self.rejected(world, index, "bad_mac") == 0, "agent \(index + 1) refused a message")
    }
  }
}
