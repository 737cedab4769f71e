import Addresses
import Agent
import AgentCore
import ArgumentParser
import CommandSupport
import Foundation
import Glibc
import Logging
import NSDB
import Packets
import Simulation
import Topology
import ZooKeeper

/// `midge-bench agent`: the agent figures of issue 6, with in-process agents (each its
/// own ZooKeeper session, datapath and event loop) on veth pairs the benchmark creates in
/// the root namespace (no addresses, no routes) and removes.
///
/// - invalidation: flows installed by real misses on N agents, then a rule of the chain
///   they traversed is rewritten; the sample is the time from the write until a dump of
///   every agent's datapath shows none of those flows (polled every ~0.5 ms);
/// - cold start: an agent starting against a topology of `coldPorts` ports bound to 100
///   hosts, as one of those hosts (so it serves 1% of the ports), until it reports ready;
/// - flow setup: distinct UDP flows sent into one agent's port, each a miss → simulation
///   (VM → bridge → VM) → installed flow; the rate at which flows are installed.
struct BenchAgent: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "agent",
    abstract: "Rule write → flows removed on N agents, agent cold start, new flows per second.")

  @Option(name: .customLong("zk"), help: "ZooKeeper connect string.")
  var connectString: String = Environment.zookeeper
  @Option(help: "Agent counts for the invalidation benchmark (repeat the option).")
  var agents: [Int] = [2, 8]
  @Option(help: "Rule writes per agent count.") var rounds = 200
  @Option(help: "Flows installed on each agent before each write.") var flowsPerAgent = 10
  @Option(help: "Ports in the cold-start topology.") var coldPorts = 10_000
  @Option(help: "Flows to set up in the flow-setup benchmark.") var newFlows = 100_000
  @Option(
    help:
      "Flow setup: run the agent (every thread of this process but the traffic sender) on this CPU alone, the sender on the others."
  )
  var agentCPU: Int?
  @Option(help: "Which parts: invalidation, cold, setup (repeat the option).")
  var parts: [String] = Self.allParts

  static let allParts = ["invalidation", "cold", "setup"]

  /// Refuses what the benchmark cannot measure before it makes veths or agents: an
  /// unknown part would otherwise be silently skipped, and zero counts leave nothing to
  /// take a percentile of.
  func validate() throws {
    for part in parts where !Self.allParts.contains(part) {
      throw ValidationError(
        "unknown part '\(part)' (--parts takes \(Self.allParts.joined(separator: ", ")))")
    }
    for count in agents where !(1...64).contains(count) {
      throw ValidationError("--agents \(count): between 1 and 64 agents")
    }
    guard rounds >= 1 else { throw ValidationError("--rounds must be at least 1") }
    guard flowsPerAgent >= 1 else { throw ValidationError("--flows-per-agent must be at least 1") }
    guard coldPorts >= 1 else { throw ValidationError("--cold-ports must be at least 1") }
    guard newFlows >= 1 else { throw ValidationError("--new-flows must be at least 1") }
    if let agentCPU {
      let online = CPUAffinity.online()
      guard online.contains(agentCPU), online.count >= 2 else {
        throw ValidationError(
          "--agent-cpu \(agentCPU): this process may run on CPUs \(online), and the sender needs another one"
        )
      }
    }
  }

  func run() async throws {
    guard geteuid() == 0 else {
      throw CommandError("the agent benchmark needs root (veths)", code: .notPermitted)
    }
    var logger = Logger(label: "midge-bench.agent")
    logger.logLevel = .warning
    if parts.contains("invalidation") {
      for count in agents { try await invalidation(agents: count, logger: logger) }
    }
    if parts.contains("cold") { try await coldStart(logger: logger) }
    if parts.contains("setup") { try await flowSetup(logger: logger) }
  }

  // MARK: Scaffolding

  /// Runs `body` with a store on a fresh root, deleted afterwards.
  func withRoot<T>(_ logger: Logger, _ body: (NSDBStore) async throws -> T) async throws -> T {
    let client = try await ZooKeeperClient.connect(to: connectString, logger: logger)
    let root = "/midge-bench-agent-\(UInt32.random(in: 0...UInt32.max))"
    let store = NSDBStore(client: client, root: root, logger: logger)
    do {
      try await store.setUp()
      let result = try await body(store)
      try? await client.deleteRecursively(root)
      await client.close()
      return result
    } catch {
      try? await client.deleteRecursively(root)
      await client.close()
      throw error
    }
  }

  func makeAgent(_ store: NSDBStore, host: String, logger: Logger) throws -> Agent {
    var configuration = AgentConfiguration()
    configuration.zookeeper = connectString
    configuration.root = store.paths.root
    configuration.hostName = host
    configuration.hostIdFile = NSTemporaryDirectory() + "midge-bench-\(host).id"
    unlink(configuration.hostIdFile)
    configuration.tunnelPort = UInt16.random(in: 20_000...29_999)
    configuration.controlAddress = "127.0.0.1:0"
    configuration.flowCapacity = 1 << 18
    configuration.logLevel = "warning"
    configuration.flowStateDirectory = NSTemporaryDirectory() + "midge-bench-flow-state-\(host)"
    return try Agent(configuration: configuration, logger: logger)
  }

  func waitUntil(_ timeout: Duration, _ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
      if await condition() { return true }
      try? await Task.sleep(for: .microseconds(500))
    }
    return await condition()
  }

  // MARK: Invalidation

  func invalidation(agents count: Int, logger: Logger) async throws {
    let suffix = String(UInt16.random(in: 0x1000...0xFFFF), radix: 16)
    var veths: [BenchVeth] = []
    defer { for veth in veths { veth.remove() } }
    for index in 0..<count { veths.append(try BenchVeth("mbi\(suffix)\(index)")) }
    try await withRoot(logger) { store in
      let chain = Chain(id: ID(name: "Chain/bench-\(suffix)"), name: "bench-\(suffix)")
      let rule = Rule(id: ID(name: "Rule/bench-\(suffix)/0"), chainId: chain.id, action: .accept)
      let bridge = Bridge(id: ID(name: "Bridge/bench-\(suffix)"), name: "bench-\(suffix)")
      let hosts = (0..<count).map {
        Host(id: ID(name: "Host/bench-\(suffix)-\($0)"), name: "bench-\(suffix)-\($0)")
      }
      try await store.transaction { tx in
        for host in hosts { try await tx.create(host) }
        try await tx.create(chain)
        try await tx.create(rule)
        try await tx.create(bridge)
        for (index, host) in hosts.enumerated() {
          try await tx.create(
            Port(
              id: ID(name: "Port/bench-\(suffix)-\(index)"), device: .bridge(bridge.id),
              tunnelKey: UInt32(index + 1), inboundFilterId: chain.id, hostId: host.id,
              interfaceName: veths[index].agentSide, name: "bench-\(index)"))
        }
      }
      var running: [Agent] = []
      do {
        for host in hosts {
          let agent = try makeAgent(store, host: host.name, logger: logger)
          try await agent.start(readyTimeout: .seconds(20))
          running.append(agent)
        }
        let attached = await waitUntil(.seconds(10)) {
          running.allSatisfy { $0.metrics.attachedPorts.load(ordering: .relaxed) == 1 }
        }
        guard attached else { throw CommandError("not every agent attached its port") }
        let injectors = try veths.map { try FrameInjector(interface: $0.injectSide) }
        let tag = FlowTagHasher.hash(FlowTag.chain(chain.id))
        func chainFlows(_ agent: Agent) async -> Int {
          await agent.dumpFlows().count { $0.entry.tags.contains(tag) }
        }
        var samples: [Duration] = []
        var incomplete = 0
        for round in 0..<rounds {
          for (index, injector) in injectors.enumerated() {
            for flow in 0..<flowsPerAgent {
              injector.send(
                benchFrame(
                  sourceMAC: MACAddress(rawValue: 0x0200_0000_0000 | UInt64(index + 1)),
                  destinationMAC: .broadcast, source: IPv4Address(10, 77, UInt8(index), 1),
                  destination: IPv4Address(10, 77, 255, 255),
                  sourcePort: UInt16(1024 + (round * flowsPerAgent + flow) % 60_000),
                  destinationPort: 9))
            }
          }
          var installed = await waitUntil(.seconds(5)) {
            for agent in running where await chainFlows(agent) < flowsPerAgent { return false }
            return true
          }
          if !installed { incomplete += 1 }
          let written = ContinuousClock.now
          try await store.transaction { tx in
            var current = try await tx.require(Rule.self, rule.id)
            current.condition.invNwTos.toggle()
            try await tx.update(current)
          }
          installed = await waitUntil(.seconds(5)) {
            for agent in running where await chainFlows(agent) > 0 { return false }
            return true
          }
          if installed { samples.append(ContinuousClock.now - written) }
        }
        let figures = percentiles(samples)
        print(
          "invalidation, \(count) agents: rule write → last agent's flows removed over \(samples.count) writes (\(flowsPerAgent) flows/agent): p50 \(figures.p50), p99 \(figures.p99), max \(figures.max)"
            + (incomplete > 0 ? " (\(incomplete) rounds with fewer flows than asked)" : ""))
      } catch {
        for agent in running { await agent.stop() }
        throw error
      }
      for agent in running { await agent.stop() }
    }
  }

  // MARK: Cold start

  func coldStart(logger: Logger) async throws {
    try await withRoot(logger) { store in
      let bridges = 100
      let perBridge = max(1, coldPorts / bridges)
      let hosts = (0..<100).map { Host(id: ID(name: "Host/cold-\($0)"), name: "cold-\($0)") }
      try await store.transaction { tx in
        for host in hosts { try await tx.create(host) }
        for index in 0..<bridges {
          try await tx.create(Bridge(id: ID(name: "Bridge/cold-\(index)"), name: "cold-\(index)"))
        }
      }
      try await withThrowingTaskGroup(of: Void.self) { group in
        for index in 0..<bridges {
          group.addTask {
            try await store.transaction { tx in
              for n in 0..<perBridge {
                let key = index * perBridge + n
                try await tx.create(
                  Port(
                    id: ID(name: "Port/cold-\(index)-\(n)"),
                    device: .bridge(ID(name: "Bridge/cold-\(index)")),
                    tunnelKey: UInt32(key + 1), hostId: hosts[index % hosts.count].id,
                    interfaceName: "eth\(n)", name: "cold-\(index)-\(n)"))
              }
            }
          }
          if index % 8 == 7 { try await group.next() }
        }
        try await group.waitForAll()
      }
      var times: [Duration] = []
      for trial in 0..<3 {
        // One of the hundred hosts, so the agent serves the 100 ports bound to it (its
        // interfaces do not exist here: the bindings are checked, nothing attaches).
        let agent = try makeAgent(store, host: "cold-\(trial)", logger: logger)
        let began = ContinuousClock.now
        try await agent.start(readyTimeout: .seconds(30))
        let elapsed = ContinuousClock.now - began
        let ready = await agent.isReady
        let objects = agent.metrics.topologyObjects.load(ordering: .relaxed)
        let phases = await agent.startupPhases.map {
          "\($0.name) \(percentiles([$0.duration]).p50)"
        }
        await agent.stop()
        guard ready else { throw CommandError("the cold-start agent never got ready") }
        times.append(elapsed)
        print(
          "cold start \(trial + 1): \(objects) objects (\(bridges * perBridge) ports), ready in \(percentiles([elapsed]).p50) (\(phases.joined(separator: ", ")))"
        )
      }
      print("cold start to ready, \(bridges * perBridge) ports: median \(percentiles(times).p50)")
    }
  }

  // MARK: Flow setup

  func flowSetup(logger: Logger) async throws {
    let suffix = String(UInt16.random(in: 0x1000...0xFFFF), radix: 16)
    let sender = try BenchVeth("mbs\(suffix)a")
    defer { sender.remove() }
    let receiver = try BenchVeth("mbs\(suffix)b")
    defer { receiver.remove() }
    try await withRoot(logger) { store in
      let host = Host(id: ID(name: "Host/setup-\(suffix)"), name: "setup-\(suffix)")
      let bridge = Bridge(id: ID(name: "Bridge/setup-\(suffix)"), name: "setup-\(suffix)")
      try await store.transaction { tx in
        try await tx.create(host)
        try await tx.create(bridge)
        for (index, veth) in [sender, receiver].enumerated() {
          try await tx.create(
            Port(
              id: ID(name: "Port/setup-\(suffix)-\(index)"), device: .bridge(bridge.id),
              tunnelKey: UInt32(index + 1), hostId: host.id, interfaceName: veth.agentSide,
              name: "setup-\(index)"))
        }
      }
      let agent = try makeAgent(store, host: host.name, logger: logger)
      try await agent.start(readyTimeout: .seconds(20))
      defer { Task { await agent.stop() } }
      guard
        await waitUntil(.seconds(10), { agent.metrics.attachedPorts.load(ordering: .relaxed) == 2 })
      else { throw CommandError("the agent did not attach both ports") }
      let vmA = MACAddress(rawValue: 0x0200_0000_00A1)
      let vmB = MACAddress(rawValue: 0x0200_0000_00B2)
      // vm-b speaks first, so the bridge learns where it is and vm-a's flows are unicast.
      let fromB = try FrameInjector(interface: receiver.injectSide)
      fromB.send(
        benchFrame(
          sourceMAC: vmB, destinationMAC: .broadcast, source: IPv4Address(10, 78, 0, 2),
          destination: IPv4Address(10, 78, 0, 255), sourcePort: 9, destinationPort: 9))
      try await Task.sleep(for: .milliseconds(300))
      let injector = try FrameInjector(interface: sender.injectSide)
      let metrics = agent.metrics
      let simulationsBefore = metrics.simulations.load(ordering: .relaxed)
      // The sender's CPUs are read before pinning narrows this thread's own set.
      let senderCPUs = agentCPU.map { cpu in CPUAffinity.online().filter { $0 != cpu } }
      var pinning = ""
      if let agentCPU {
        try CPUAffinity.pinProcess(to: [agentCPU])
        pinning = ", agent on CPU \(agentCPU), sender on CPUs \(senderCPUs ?? [])"
      }
      let target = newFlows
      let began = ContinuousClock.now
      let sent = await withCheckedContinuation { continuation in
        let thread = Thread {
          if let senderCPUs, !senderCPUs.isEmpty { try? CPUAffinity.pinThread(to: senderCPUs) }
          continuation.resume(
            returning: Self.send(target, through: injector, from: vmA, to: vmB, metrics: metrics))
        }
        thread.start()
      }
      let elapsed = ContinuousClock.now - began
      let flows = Int(metrics.flowsInstalled.load(ordering: .relaxed) - sent.installedBefore)
      let simulations = metrics.simulations.load(ordering: .relaxed) - simulationsBefore
      print(
        "flow setup: \(flows) flows installed (miss → simulation → flow, VM → bridge → VM) in \(percentiles([elapsed]).p50) → \(Int(Double(flows) / elapsed.seconds)) flows/s (\(simulations) simulations, \(sent.frames - flows) frames not turned into flows\(pinning))"
      )
    }
  }
}

extension BenchAgent {
  /// The flow-setup traffic, on its own thread: distinct UDP flows from vm-a to vm-b, at
  /// most 768 frames ahead of the flows the agent installed (more would only overflow
  /// socket buffers), until `target` flows are installed or two minutes have passed.
  static func send(
    _ target: Int, through injector: FrameInjector, from vmA: MACAddress,
    to vmB: MACAddress,
    metrics: AgentMetrics
  ) -> (frames: Int, installedBefore: UInt64) {
    let installedBefore = metrics.flowsInstalled.load(ordering: .relaxed)
    func installed() -> Int {
      Int(metrics.flowsInstalled.load(ordering: .relaxed) - installedBefore)
    }
    var sent = 0
    var lost = 0
    var lastProgress = ContinuousClock.now
    var lastInstalled = 0
    let deadline = ContinuousClock.now + .seconds(120)
    while installed() < target && ContinuousClock.now < deadline {
      let done = installed()
      if done != lastInstalled {
        lastInstalled = done
        lastProgress = .now
      } else if ContinuousClock.now - lastProgress > .milliseconds(200) {
        lost = sent - done  // frames the kernel or the datapath dropped: never coming
        lastProgress = .now
      }
      if sent - done - lost < 768 {
        for _ in 0..<256 {
          let n = sent
          injector.send(
            benchFrame(
              sourceMAC: vmA, destinationMAC: vmB, source: IPv4Address(10, 78, 0, 1),
              destination: IPv4Address(10, 78, 0, 2), sourcePort: UInt16(1024 + n % 60_000),
              destinationPort: UInt16(1 + n / 60_000)))
          sent += 1
        }
      } else {
        usleep(100)
      }
    }
    return (sent, installedBefore)
  }
}
