import Foundation
import Glibc
import Kubernetes
import MidgeTestSupport
import NSDB
import Testing
import Topology
import TopologyFile

/// The Kubernetes translation with real packets: two `midge-agent` processes ("node-1",
/// "node-2"), pods as network namespaces whose root-side veth has the translated
/// interface name and whose eth0 has the translated MAC (anti-spoofing drops anything
/// else). x/a and y/b run on node-1, x/c on node-2. Connection tracking and NAT state
/// are local to an agent, so the checks that need them (replies to an isolated pod,
/// the service's reverse DNAT) use pods on one node.
final class K8sWorld: @unchecked Sendable {
  struct PodVM {
    let namespace: String  // Kubernetes namespace
    let name: String
    let netns: String
    let interface: String
    let ip: String
    let gateway: String
    let mac: String
    let node: Int
  }

  let zookeeper: ZooKeeperServer
  let root: String
  let suffix: String
  let directory: String
  private(set) var pods: [String: PodVM] = [:]
  private(set) var agents: [(child: ChildProcess?, tunnelPort: UInt16, controlPort: UInt16)] = []
  private var cleaned = false
  let logger = ZooKeeperServer.logger("k8s-world")

  init(zookeeper: ZooKeeperServer) throws {
    self.zookeeper = zookeeper
    suffix = String(UInt32.random(in: 0x1000_0000...0xFFFF_FFFF), radix: 16)
    root = "/midge-k8s-\(suffix)"
    directory = NSTemporaryDirectory() + "midge-k8s-\(suffix)"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    guard FileManager.default.isExecutableFile(atPath: AgentWorld.agentBinary) else {
      throw HarnessError("no midge-agent next to the test binary at \(AgentWorld.agentBinary)")
    }
  }

  deinit { cleanUp() }

  static let podList: [(String, String, String, Int)] = [
    ("x", "a", "10.62.1.10", 0), ("x", "c", "10.62.1.12", 1), ("y", "b", "10.62.2.11", 0),
  ]

  func pod(_ key: String) -> PodVM { pods[key]! }

  /// The manifests: namespaces x and y, the three pods, then `extra` documents.
  func manifests(_ extra: String) -> String {
    var docs = ["x", "y"].map { "kind: Namespace\nmetadata: {name: \($0), labels: {ns: \($0)}}" }
    for (namespace, name, ip, node) in Self.podList {
      docs.append(
        """
        kind: Pod
        metadata: {name: \(name), namespace: \(namespace), labels: {pod: \(name)}}
        spec:
          nodeName: node-\(node + 1)
          containers: [{name: c, ports: [{name: serve-80-tcp, containerPort: 80}]}]
        status: {podIP: \(ip)}
        """)
    }
    if !extra.isEmpty { docs.append(extra) }
    return docs.joined(separator: "\n---\n")
  }

  /// Starts the agents, applies the hosts (topology file) and the translation (as
  /// `midgectl k8s apply` does, persistent MAC/ARP entries included) and waits until
  /// every pod port is active.
  func start(_ extra: String) async throws {
    for _ in 0..<2 {
      agents.append((nil, try freePort(SOCK_DGRAM), try freePort(SOCK_STREAM)))
    }
    let translation = try K8sTranslator().translate(yaml: manifests(extra))
    for (namespace, name, ip, node) in Self.podList {
      guard
        let port = translation.snapshot.ports.values.first(where: {
          $0.name == "\(namespace)/\(name)"
        }), let interface = port.interfaceName
      else { throw HarnessError("the translation has no port \(namespace)/\(name)") }
      let index = pods.count
      let vm = PodVM(
        namespace: namespace, name: name, netns: "midge-k8s-\(suffix)-\(index)",
        interface: interface, ip: ip,
        gateway: namespace == "x" ? "10.62.1.1" : "10.62.2.1",
        mac: K8sNames.mac(port.id).description, node: node)
      pods["\(namespace)/\(name)"] = vm
      try addVM(vm)
    }
    let hosts = """
      tunnelZones: [{name: default}]
      hosts:
        - {name: node-1, tunnelZone: default, address: 127.0.0.1, port: \(agents[0].tunnelPort)}
        - {name: node-2, tunnelZone: default, address: 127.0.0.1, port: \(agents[1].tunnelPort)}
      """
    try await withStore { store in
      _ = try await store.apply(try TopologyFile.parse(hosts), prune: false)
      _ = try await store.apply(translation.snapshot, prune: false)
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
    for index in agents.indices {
      agents[index].child = try ChildProcess(
        [
          AgentWorld.agentBinary, "--zk", zookeeper.connectString, "--root", root, "--host-name",
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

  func withStore<T>(_ body: (NSDBStore) async throws -> T) async throws -> T {
    try await zookeeper.withClient(sessionTimeout: .seconds(10)) { client in
      let store = NSDBStore(client: client, root: root, logger: logger)
      try await store.setUp()
      return try await body(store)
    }
  }

  private func addVM(_ vm: PodVM) throws {
    let inside = ["ip", "netns", "exec", vm.netns]
    let steps: [[String]] = [
      ["ip", "netns", "add", vm.netns],
      [
        "ip", "link", "add", vm.interface, "type", "veth", "peer", "name", "eth0", "netns",
        vm.netns,
      ],
      inside + ["ip", "link", "set", "lo", "up"],
      inside + ["ip", "link", "set", "eth0", "address", vm.mac],
      inside + ["ip", "addr", "add", "\(vm.ip)/24", "dev", "eth0"],
      inside + ["ip", "link", "set", "eth0", "up"],
      inside + ["ip", "route", "add", "default", "via", vm.gateway],
      ["ip", "link", "set", vm.interface, "up"],
    ]
    for step in steps {
      let result = runCommand(step)
      guard result.status == 0 else {
        throw HarnessError("\(step.joined(separator: " ")) failed: \(result.output)")
      }
    }
  }

  func ping(_ from: String, _ address: String, count: Int = 3) -> Bool {
    runCommand(
      [
        "ip", "netns", "exec", pod(from).netns, "ping", "-n", "-q", "-c", "\(count)", "-i", "0.2",
        "-W", "1", address,
      ], timeout: Double(count) * 1.5 + 5
    ).status == 0
  }

  func pingsEventually(_ from: String, _ address: String) async -> Bool {
    await eventually(timeout: .seconds(10), every: .milliseconds(100)) {
      ping(from, address, count: 1)
    }
  }

  /// A 64 KB TCP transfer from one pod to `address:port`, served by pod `server` on
  /// `port`; whether it arrived whole.
  func tcp(_ from: String, to server: String, address: String, port: UInt16) async -> Bool {
    let transfer = TCPTransfer(size: 64 << 10)
    do {
      let result = try await transfer.run(
        server: pod(server).netns, client: pod(from).netns, address: address,
        port: port, timeout: .seconds(4))
      if !result.intact {
        logger.warning(
          "tcp transfer incomplete",
          metadata: ["bytes": "\(result.bytes)", "error": "\(result.error ?? "-")"])
      }
      return result.intact
    } catch {
      logger.warning("tcp transfer failed", metadata: ["error": "\(error)"])
      return false
    }
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
  .serialized, .enabled(if: endToEndUnavailable() == nil, "\(endToEndUnavailable() ?? "")"))
struct K8sEndToEndTests {
  @Test("without policies pods reach each other: same namespace across agents, and routed")
  func open() async throws {
    let world = try K8sWorld(zookeeper: try await ZooKeeperServer.shared())
    defer { world.cleanUp() }
    try await world.start("")
    #expect(await world.pingsEventually("x/a", "10.62.1.12"), "x/a → x/c, two agents")
    #expect(await world.pingsEventually("x/a", "10.62.2.11"), "x/a → y/b, routed")
    #expect(await world.tcp("x/c", to: "y/b", address: "10.62.2.11", port: 80))
  }

  @Test("a policy admits only x/a on TCP 80, also through the service; replies pass")
  func policy() async throws {
    let extra = """
      kind: NetworkPolicy
      metadata: {name: only-x-a, namespace: y}
      spec:
        podSelector: {matchLabels: {pod: b}}
        ingress:
        - from: [{namespaceSelector: {matchLabels: {ns: x}}, podSelector: {matchLabels: {pod: a}}}]
          ports: [{port: serve-80-tcp}]
      ---
      kind: Service
      metadata: {name: web, namespace: y}
      spec:
        selector: {pod: b}
        clusterIP: 10.96.62.10
        ports: [{name: http, port: 80, targetPort: serve-80-tcp}]
      """
    let world = try K8sWorld(zookeeper: try await ZooKeeperServer.shared())
    defer { world.cleanUp() }
    try await world.start(extra)
    // y/b is not isolated for egress and x/a not for ingress; the replies from x/a
    // reach the isolated y/b as return flows.
    #expect(await world.pingsEventually("y/b", "10.62.1.10"), "y/b → x/a and its replies")
    #expect(await world.tcp("x/a", to: "y/b", address: "10.62.2.11", port: 80), "allowed")
    #expect(
      await world.tcp("x/a", to: "y/b", address: "10.96.62.10", port: 80),
      "allowed through the service's cluster IP")
    #expect(!(await world.tcp("x/c", to: "y/b", address: "10.62.2.11", port: 80)), "x/c is not x/a")
    #expect(!world.ping("x/a", "10.62.2.11"), "ICMP is not TCP 80")
  }
}
