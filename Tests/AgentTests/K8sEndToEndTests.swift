import Foundation
import Glibc
import Kubernetes
import MidgeTestSupport
import NSDB
import Testing
import Topology
import TopologyFile

/// The Kubernetes translation with real packets: two `midge-agent` processes ("node-1",
/// "node-2") in the root namespace, tunnelling over 127.0.0.1, and the pods of
/// `K8sScenario` as network namespaces behind them. x/a and y/b run on node-1, x/c on
/// node-2. `K8sClusterTests` runs the same scenario with every pod on a host of its own.
final class K8sWorld: PodNetwork, @unchecked Sendable {
  let zookeeper: ZooKeeperServer
  let root: String
  let suffix: String
  let directory: String
  private(set) var pods: [String: K8sScenario.PodVM] = [:]
  private(set) var agents: [(child: ChildProcess?, tunnelPort: UInt16, controlPort: UInt16)] = []
  private var cleaned = false
  let logger = ZooKeeperServer.logger("k8s-world")

  init(zookeeper: ZooKeeperServer) throws {
    self.zookeeper = zookeeper
    suffix = String(UInt32.random(in: 0x1000_0000...0xFFFF_FFFF), radix: 16)
    root = "/midge-k8s-\(suffix)"
    directory = NSTemporaryDirectory() + "midge-k8s-\(suffix)"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    try Requirement.check(Requirement.agents)
    let made = runCommand(
      [
        AgentWorld.midgectlBinary, "acl", "init", "--dir", identities, "--host", "node-1",
        "--host", "node-2",
      ], timeout: 30)
    guard made.status == 0 else { throw HarnessError("acl init: \(made.output)") }
  }

  /// The identities (`midgectl acl init`): the tree is secured and the tunnel zone keyed
  /// before the agents start, as `ops/cluster` does.
  var identities: String { directory + "/identities" }

  deinit { cleanUp() }

  static let nodes = ["x/a": "node-1", "y/b": "node-1", "x/c": "node-2"]
  let settleTimeout = Duration.seconds(10)
  let tcpTimeout = Duration.seconds(4)

  func pod(_ key: String) -> K8sScenario.PodVM { pods[key]! }

  /// Starts the agents, applies the hosts (topology file) and the translation (as
  /// `midgectl k8s apply` does, persistent MAC/ARP entries included) and waits until
  /// every pod port is active.
  func start(_ extra: String) async throws {
    for _ in 0..<2 {
      agents.append((nil, try freePort(SOCK_DGRAM), try freePort(SOCK_STREAM)))
    }
    let translation = try K8sTranslator().translate(
      yaml: K8sScenario.manifests(nodes: Self.nodes, extra: extra))
    var index = 0
    pods = try K8sScenario.podVMs(translation, nodes: Self.nodes) { _ in
      defer { index += 1 }
      return "midge-k8s-\(suffix)-\(index)"
    }
    for vm in pods.values { try K8sScenario.plumb(vm, nodeNamespace: nil) }
    let hosts = """
      tunnelZones: [{name: default}]
      hosts:
        - {name: node-1, tunnelZone: default, address: 127.0.0.1, port: \(agents[0].tunnelPort)}
        - {name: node-2, tunnelZone: default, address: 127.0.0.1, port: \(agents[1].tunnelPort)}
      """
    try await withStore { store in
      _ = try await store.apply(try TopologyFile.parse(hosts), prune: false)
      var current = TopologySnapshot()
      for host in try await store.getAll(Host.self) { current.hosts[host.id] = host }
      for zone in try await store.getAll(TunnelZone.self) { current.tunnelZones[zone.id] = zone }
      _ = try await store.apply(translation.desired(keepingHostsOf: current), prune: false)
      for entry in translation.macEntries {
        let table = MACTable.macTable(
          client: store.client, paths: store.paths, bridge: entry.bridge, logger: logger)
        try await table.add(entry.mac, entry.port, persistent: true)
      }
      for entry in translation.arpEntries {
        let table = ARPTable.arpTable(
          client: store.client, paths: store.paths, router: entry.router, logger: logger)
        try await table.add(entry.ip, entry.mac, persistent: true)
      }
    }
    for step in [
      ["acl", "apply", "--dir", identities], ["acl", "rotate-key", "--zone", "default"],
    ] {
      let done = runCommand(
        [AgentWorld.midgectlBinary] + step + [
          "--zk", zookeeper.connectString, "--root", root, "--credentials",
          identities + "/admin.credentials",
        ], timeout: 60)
      guard done.status == 0 else { throw HarnessError("midgectl \(step): \(done.output)") }
    }
    for index in agents.indices {
      agents[index].child = try ChildProcess(
        [
          AgentWorld.agentBinary, "--zk", zookeeper.connectString, "--root", root,
          "--credentials", identities + "/host-node-\(index + 1).credentials", "--host-name",
          "node-\(index + 1)", "--host-id-file", directory + "/node-\(index + 1).id",
          "--tunnel-port", "\(agents[index].tunnelPort)", "--control-address",
          "127.0.0.1:\(agents[index].controlPort)", "--log-level", "info",
          "--flow-state-directory", directory + "/node-\(index + 1)-flow-state",
        ], output: directory + "/agent-\(index + 1).log")
    }
    for index in agents.indices {
      let ready = await eventually(timeout: .seconds(20), every: .milliseconds(100)) {
        (try? httpGet(port: agents[index].controlPort, path: "/health"))?.contains(
          "\"ready\" : true") == true
      }
      guard ready else { throw HarnessError("agent \(index + 1) not ready:\n\(agentLog(index))") }
    }
    try await withStore { store in
      let state = PortState(client: store.client, paths: store.paths, logger: logger)
      for key in pods.keys {
        let id = K8sNames.id(.port, key)
        let active = try await eventually(timeout: .seconds(10)) {
          try await state.activeState(id) != nil
        }
        guard active else { throw HarnessError("port \(key) never became active") }
      }
    }
  }

  func agentLog(_ index: Int) -> String {
    (try? String(contentsOfFile: directory + "/agent-\(index + 1).log", encoding: .utf8))
      ?? "(no log)"
  }

  /// Runs `body` with a store on this world's root, as the administrator.
  func withStore<T>(_ body: (NSDBStore) async throws -> T) async throws -> T {
    try await adminStore(zookeeper, root: root, identities: identities, logger: logger, body)
  }

  func cleanUp() {
    guard !cleaned else { return }
    cleaned = true
    for agent in agents { agent.child?.stop(grace: 3) }
    for vm in pods.values {
      runCommand(["ip", "link", "del", vm.interface])
      runCommand(["ip", "netns", "del", vm.netns])
    }
    // MIDGE_TEST_KEEP=1 keeps the agents' logs for a look after a failure.
    if ProcessInfo.processInfo.environment["MIDGE_TEST_KEEP"] == nil {
      try? FileManager.default.removeItem(atPath: directory)
    } else {
      logger.warning("kept the world's files", metadata: ["directory": "\(directory)"])
    }
  }
}

@Suite(
  "Kubernetes translation end to end: agents, pod namespaces, real packets",
  .serialized, .requires(Requirement.agents))
struct K8sEndToEndTests {
  @Test("without policies pods reach each other: same namespace across agents, and routed")
  func open() async throws {
    let world = try K8sWorld(zookeeper: try await ZooKeeperServer.shared())
    defer { world.cleanUp() }
    try await world.start("")
    await K8sScenario.expectOpen(world)
  }

  @Test("a policy admits only x/a on TCP 80, also through the service; replies pass")
  func policy() async throws {
    let world = try K8sWorld(zookeeper: try await ZooKeeperServer.shared())
    defer { world.cleanUp() }
    try await world.start(K8sScenario.policy)
    await K8sScenario.expectPolicy(world)
  }
}
