import ArgumentParser
import CommandSupport
import Logging
import NSDB
import Topology
import ZooKeeper

/// `midge-bench nsdb`: the NSDB figures of issue 3, against a live ZooKeeper.
struct BenchNSDB: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "nsdb",
    abstract:
      "Bulk create ports, cold-load them with a fresh observer, measure write→observer latency."
  )

  @Option(name: .customLong("zk"), help: "ZooKeeper connect string.")
  var connectString: String = Environment.zookeeper

  @Option(help: "Bridges to create.") var bridges = 100
  @Option(help: "Ports to create, spread over the bridges.") var ports = 10_000
  @Option(help: "Transactions in flight at once (each on its own bridge).") var concurrency = 8
  @Option(help: "Write→observer latency samples.") var samples = 300

  /// Refuses counts the measurement cannot use (no bridge to spread ports over, no
  /// sample to take a percentile of) before anything connects.
  func validate() throws {
    guard bridges >= 1 else { throw ValidationError("--bridges must be at least 1") }
    guard ports >= bridges else {
      throw ValidationError("--ports (\(ports)) must be at least --bridges (\(bridges))")
    }
    guard concurrency >= 1 else { throw ValidationError("--concurrency must be at least 1") }
    guard samples >= 1 else { throw ValidationError("--samples must be at least 1") }
  }

  func run() async throws {
    var logger = Logger(label: "midge-bench.nsdb")
    logger.logLevel = .warning
    let root = "/midge-bench-\(UInt32.random(in: 0...UInt32.max))"
    let client = try await ZooKeeperClient.connect(to: connectString, logger: logger)
    let store = NSDBStore(client: client, root: root, logger: logger)
    try await store.setUp()
    defer { print("(scratch root \(root))") }
    do {
      try await measure(store, logger: logger)
    } catch {
      try? await client.deleteRecursively(root)
      await client.close()
      throw error
    }
    try await client.deleteRecursively(root)
    await client.close()
  }

  private func measure(_ store: NSDBStore, logger: Logger) async throws {
    let bridgeIDs = (0..<bridges).map { ID(name: "bench-bridge-\($0)") }
    try await store.transaction { tx in
      for id in bridgeIDs { try await tx.create(Bridge(id: id, name: "\(id)")) }
    }
    let perBridge = ports / bridges
    let clock = ContinuousClock()
    let began = clock.now
    try await withThrowingTaskGroup(of: Void.self) { group in
      var next = 0
      func schedule() {
        guard next < bridgeIDs.count else { return }
        let bridge = bridgeIDs[next]
        let index = next
        next += 1
        group.addTask {
          try await store.transaction { tx in
            for n in 0..<perBridge {
              try await tx.create(
                Port(
                  id: ID(name: "bench-port-\(index)-\(n)"), device: .bridge(bridge),
                  tunnelKey: UInt32(index * perBridge + n + 1)))
            }
          }
        }
      }
      for _ in 0..<concurrency { schedule() }
      while try await group.next() != nil { schedule() }
    }
    let created = bridges * perBridge
    let createTime = clock.now - began
    print(
      "create: \(created) ports on \(bridges) bridges in \(createTime) → \(rate(created, createTime)) objects/s"
    )

    let coldClient = try await ZooKeeperClient.connect(
      to: store.client.connectString, logger: logger)
    let cold = NSDBStore(client: coldClient, root: store.paths.root, logger: logger)
    let loadStart = clock.now
    var loaded = 0
    for try await event in cold.observeAll(Port.self) {
      if case .updated = event { loaded += 1 }
      if case .ready = event { break }
    }
    let loadTime = clock.now - loadStart
    print(
      "cold load: \(loaded) ports observed by a fresh observer in \(loadTime) → \(rate(loaded, loadTime)) objects/s"
    )

    let target = bridgeIDs[0]
    var updates = cold.observe(Bridge.self, target).makeAsyncIterator()
    _ = try await updates.next()
    var latencies: [Duration] = []
    for n in 0..<samples {
      var bridge = try await store.get(Bridge.self, target)
      bridge.name = "sample-\(n)"
      let written = clock.now
      try await store.update(bridge)
      while case .value(let seen)? = try await updates.next() {
        if seen.name == bridge.name { break }
      }
      latencies.append(clock.now - written)
    }
    latencies.sort()
    let p50 = latencies[latencies.count / 2]
    let p99 = latencies[min(latencies.count - 1, latencies.count * 99 / 100)]
    print("write→observer latency over \(samples) updates: p50 \(p50), p99 \(p99)")
    await coldClient.close()
  }

  private func rate(_ count: Int, _ duration: Duration) -> Int {
    let seconds =
      Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    return seconds > 0 ? Int(Double(count) / seconds) : 0
  }
}
