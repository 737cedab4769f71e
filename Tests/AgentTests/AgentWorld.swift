import Datapath
import Foundation
import Glibc
import Logging
import MidgeTestSupport
import NSDB
import Topology
import TopologyFile
import ZooKeeper

/// One test's world for the end-to-end tests: a private NSDB root on a ZooKeeper server,
/// the demo-like topology (two tenant bridges behind a router, a chain that blocks
/// vm-a2 → vm-b2), two `midge-agent` processes ("host-1", "host-2") with their own tunnel
/// UDP ports and control APIs on 127.0.0.1, and four "VMs" (network namespaces joined by
/// veth pairs to the agents). Tenant addresses are 10.61.x, inside the namespaces only;
/// the root namespace gets no addresses and no routes. `cleanUp()` (also on deinit)
/// stops the agents and removes every namespace and veth, whatever happened.
final class AgentWorld: @unchecked Sendable {
  struct VM {
    let name: String  // the port name, e.g. "vm-a1"
    let namespace: String
    let interface: String  // root-side veth, bound to the port
    let address: String
    let gateway: String
    let host: Int
  }

  struct AgentProcess {
    var child: ChildProcess?
    let host: String
    let tunnelPort: UInt16
    let controlPort: UInt16
    let log: String
  }

  let zookeeper: ZooKeeperServer
  let root: String
  let suffix: String
  let directory: String
  let sessionTimeout: Double
  private(set) var vms: [String: VM] = [:]
  private(set) var agents: [AgentProcess] = []
  private var cleaned = false
  let logger = ZooKeeperServer.logger("agent-world")

  static var agentBinary: String { Requirement.productPath("midge-agent") }

  /// More `midge-agent` flags for every agent.
  let agentArguments: [String]
  /// Whether agents run under `midge-supervisor` (then `AgentProcess.child` is the
  /// supervisor, and `agentPID(_:)` the agent).
  let supervised: Bool

  static var supervisorBinary: String { Requirement.productPath("midge-supervisor") }

  /// With credentials (the default): `midgectl acl init` made the identities here, every
  /// agent runs with its host's credential file, and the harness's own store is the
  /// administrator. `start` secures the tree and keys the tunnel zone before the agents
  /// start, unless `secureAtStart` is false (a test that secures it in place).
  let identities: String?
  let secureAtStart: Bool

  init(
    zookeeper: ZooKeeperServer, sessionTimeout: Double = 2, agentArguments: [String] = [],
    supervised: Bool = false, credentials: Bool = true, secureAtStart: Bool = true
  ) throws {
    self.secureAtStart = credentials && secureAtStart
    self.zookeeper = zookeeper
    self.sessionTimeout = sessionTimeout
    self.agentArguments = agentArguments
    self.supervised = supervised
    suffix = String(UInt32.random(in: 0x1000_0000...0xFFFF_FFFF), radix: 16)
    root = "/midge-e2e-\(suffix)"
    directory = NSTemporaryDirectory() + "midge-e2e-\(suffix)"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    try Requirement.check(supervised ? Requirement.supervisedAgents : Requirement.agents)
    identities = credentials ? directory + "/identities" : nil
    if let identities {
      let made = runCommand(
        [
          Self.midgectlBinary, "acl", "init", "--dir", identities, "--host", "host-1", "--host",
          "host-2",
        ], timeout: 30)
      guard made.status == 0 else { throw HarnessError("acl init: \(made.output)") }
    }
  }

  static var midgectlBinary: String { Requirement.productPath("midgectl") }

  /// Runs `midgectl` against this world's NSDB, as the administrator when there are
  /// identities (or with `credentials`, a file of the identity directory; "" for none).
  func midgectl(_ arguments: [String], credentials: String? = nil) -> (
    status: Int32, output: String
  ) {
    var flags = ["--zk", zookeeper.connectString, "--root", root]
    if let identities {
      let file = credentials ?? "admin.credentials"
      if !file.isEmpty { flags += ["--credentials", identities + "/" + file] }
    }
    return runCommand([Self.midgectlBinary] + arguments + flags, timeout: 60)
  }

  deinit { cleanUp() }

  /// The topology file for this world.
  func topologyYAML() -> String {
    """
    tunnelZones:
      - name: default
    hosts:
      - {name: host-1, tunnelZone: default, address: 127.0.0.1, port: \(agents[0].tunnelPort)}
      - {name: host-2, tunnelZone: default, address: 127.0.0.1, port: \(agents[1].tunnelPort)}
    chains:
      - name: block-a2-to-b2
        rules:
          - {action: drop, nwSrc: 10.61.1.3/32, nwDst: 10.61.2.3/32}
          - {action: accept}
    bridges:
      - name: tenant-a
        ports:
          - {name: vm-a1, host: host-1, interface: \(vms["vm-a1"]!.interface)}
          - {name: vm-a2, host: host-2, interface: \(vms["vm-a2"]!.interface), inboundFilter: block-a2-to-b2}
      - name: tenant-b
        ports:
          - {name: vm-b1, host: host-2, interface: \(vms["vm-b1"]!.interface)}
          - {name: vm-b2, host: host-1, interface: \(vms["vm-b2"]!.interface)}
    routers:
      - name: edge
        ports:
          - {name: edge-a, address: 10.61.1.1/24, link: tenant-a}
          - {name: edge-b, address: 10.61.2.1/24, link: tenant-b}
    """
  }

  /// Creates the VMs, applies the topology and starts both agents; returns when both
  /// report ready and every VM port is active.
  func start() async throws {
    for (index, host) in ["host-1", "host-2"].enumerated() {
      agents.append(
        AgentProcess(
          child: nil, host: host, tunnelPort: try freePort(SOCK_DGRAM),
          controlPort: try freePort(SOCK_STREAM), log: directory + "/agent-\(index + 1).log"))
    }
    try addVM("vm-a1", "10.61.1.2", "10.61.1.1", host: 0)
    try addVM("vm-a2", "10.61.1.3", "10.61.1.1", host: 1)
    try addVM("vm-b1", "10.61.2.2", "10.61.2.1", host: 1)
    try addVM("vm-b2", "10.61.2.3", "10.61.2.1", host: 0)
    try await withStore { store in
      let snapshot = try TopologyFile.parse(topologyYAML())
      _ = try await store.apply(snapshot, prune: false)
    }
    if let identities, secureAtStart {
      for step in [
        ["acl", "apply", "--dir", identities], ["acl", "rotate-key", "--zone", "default"],
      ] {
        let done = midgectl(step)
        guard done.status == 0 else { throw HarnessError("midgectl \(step): \(done.output)") }
      }
    }
    for index in agents.indices { try startAgent(index) }
    for index in agents.indices { try await waitReady(index) }
    try await waitActive(Array(vms.keys))
  }

  func startAgent(_ index: Int) throws {
    let agent = agents[index]
    let supervisor =
      supervised
      ? [Self.supervisorBinary, "--pid-file", directory + "/\(agent.host).pid", "--"] : []
    agents[index].child = try ChildProcess(
      supervisor + [
        Self.agentBinary, "--zk", zookeeper.connectString, "--root", root, "--host-name",
        agent.host, "--host-id-file", directory + "/\(agent.host).id", "--tunnel-port",
        "\(agent.tunnelPort)", "--control-address", "127.0.0.1:\(agent.controlPort)",
        "--session-timeout", "\(sessionTimeout)", "--log-level", "info",
        "--flow-state-directory", directory + "/\(agent.host)-flow-state",
      ] + (identities.map { ["--credentials", $0 + "/host-\(agent.host).credentials"] } ?? [])
        + agentArguments, output: agent.log)
  }

  /// Waits until agent `index` answers `/health` with ready (at most 20 s).
  func waitReady(_ index: Int) async throws {
    let ready = await eventually(timeout: .seconds(20), every: .milliseconds(100)) {
      (try? httpGet(port: agents[index].controlPort, path: "/health"))?.contains(
        "\"ready\" : true") == true
    }
    guard ready else {
      throw HarnessError("agent \(index + 1) not ready; its log:\n\(agentLog(index))")
    }
  }

  /// Waits until every named port is active (at most 10 s).
  func waitActive(_ names: [String]) async throws {
    try await withStore { store in
      let ports = try await store.getAll(Port.self)
      let state = PortState(client: store.client, paths: store.paths, logger: logger)
      for name in names {
        guard let port = ports.first(where: { $0.name == name }) else {
          throw HarnessError("no port \(name)")
        }
        let active = try await eventually(timeout: .seconds(10)) {
          try await state.activeState(port.id) != nil
        }
        guard active else { throw HarnessError("port \(name) never became active") }
      }
    }
  }

  /// The process id of agent `index` (under a supervisor: its child, once started).
  func agentPID(_ index: Int) -> pid_t? {
    guard supervised else { return agents[index].child?.pid }
    let file = directory + "/\(agents[index].host).pid"
    let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
    return pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines))
  }

  func agentLog(_ index: Int) -> String {
    (try? String(contentsOfFile: agents[index].log, encoding: .utf8)) ?? "(no log)"
  }

  func controlGet(_ index: Int, _ path: String) throws -> String {
    try httpGet(port: agents[index].controlPort, path: path)
  }

  /// Runs `body` with a store on this world's root.
  func withStore<T>(_ body: (NSDBStore) async throws -> T) async throws -> T {
    try await adminStore(zookeeper, root: root, identities: identities, logger: logger, body)
  }

  private func addVM(_ name: String, _ address: String, _ gateway: String, host: Int) throws {
    let index = vms.count
    let vm = VM(
      name: name, namespace: "midge-e2e-\(suffix)-\(index)", interface: "me\(suffix)\(index)",
      address: address, gateway: gateway, host: host)
    vms[name] = vm
    let steps: [[String]] = [
      ["ip", "netns", "add", vm.namespace],
      [
        "ip", "link", "add", vm.interface, "type", "veth", "peer", "name", "eth0", "netns",
        vm.namespace,
      ],
      ["ip", "netns", "exec", vm.namespace, "ip", "link", "set", "lo", "up"],
      ["ip", "netns", "exec", vm.namespace, "ip", "addr", "add", "\(address)/24", "dev", "eth0"],
      ["ip", "netns", "exec", vm.namespace, "ip", "link", "set", "eth0", "up"],
      ["ip", "netns", "exec", vm.namespace, "ip", "route", "add", "default", "via", gateway],
      ["ip", "link", "set", vm.interface, "up"],
    ]
    for step in steps {
      let result = runCommand(step)
      guard result.status == 0 else {
        throw HarnessError("\(step.joined(separator: " ")) failed: \(result.output)")
      }
    }
  }

  /// `ping -c count` from one VM to an address; true when at least one reply came.
  func ping(from vm: String, to address: String, count: Int = 3, interval: String = "0.2")
    -> Bool
  {
    runCommand(
      [
        "ip", "netns", "exec", vms[vm]!.namespace, "ping", "-n", "-q", "-c", "\(count)", "-i",
        interval, "-W", "1", address,
      ], timeout: Double(count) * 1.5 + 5
    ).status == 0
  }

  /// Pings until one gets through (ARP and first simulations take a moment), at most 10 s.
  func pingsEventually(from vm: String, to address: String) async -> Bool {
    await eventually(timeout: .seconds(10), every: .milliseconds(100)) {
      ping(from: vm, to: address, count: 1)
    }
  }

  /// Stops the agents and removes every namespace and veth.
  func cleanUp() {
    guard !cleaned else { return }
    cleaned = true
    for agent in agents { agent.child?.stop(grace: 3) }
    for vm in vms.values {
      runCommand(["ip", "link", "del", vm.interface])
      runCommand(["ip", "netns", "del", vm.namespace])
    }
    try? FileManager.default.removeItem(atPath: directory)
  }
}

/// A free port on 127.0.0.1 for `type` (SOCK_DGRAM or SOCK_STREAM), from the kernel.
func freePort(_ type: __socket_type) throws -> UInt16 {
  let fd = socket(AF_INET, Int32(type.rawValue), 0)
  guard fd >= 0 else { throw HarnessError("socket: \(errno)") }
  defer { close(fd) }
  var address = sockaddr_in()
  address.sin_family = sa_family_t(AF_INET)
  address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
  var length = socklen_t(MemoryLayout<sockaddr_in>.size)
  let result = withUnsafeMutablePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
      bind(fd, $0, length) == 0 ? getsockname(fd, $0, &length) : -1
    }
  }
  guard result == 0 else { throw HarnessError("bind: \(errno)") }
  return UInt16(bigEndian: address.sin_port)
}

/// A GET to 127.0.0.1:`port` (of network namespace `namespace`, when given); the body
/// (2 s timeouts).
func httpGet(port: UInt16, path: String, namespace: String? = nil) throws -> String {
  let answer = try RawClient.exchange(
    port: port, namespace: namespace, "GET \(path) HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n",
    timeout: 2)
  guard let split = answer.text.range(of: "\r\n\r\n") else { throw HarnessError("bad response") }
  return String(answer.text[split.upperBound...])
}

/// The value of the series `name` (with its labels, as exposed) in a Prometheus text
/// exposition; nil if it is not there.
func metricValue(_ exposition: String, _ name: String) -> Double? {
  for line in exposition.split(separator: "\n") where line.hasPrefix(name + " ") {
    return Double(line.dropFirst(name.count + 1))
  }
  return nil
}

/// Runs `body` with a store on `root`, as the administrator of `identities` (a directory
/// `midgectl acl init` made; nil: anonymous, on an open tree), and closes its session.
func adminStore<T>(
  _ zookeeper: ZooKeeperServer, root: String, identities: String?, logger: Logger,
  _ body: (NSDBStore) async throws -> T
) async throws -> T {
  let admin = try identities.map { try CredentialFile.load($0 + "/admin.credentials") } ?? []
  let client = try await zookeeper.client(
    sessionTimeout: .seconds(10), label: "world", authentication: admin)
  do {
    let store = NSDBStore(client: client, root: root, logger: logger)
    if let creator = admin.first { try await store.useAccess(creator: creator) }
    try await store.setUp()
    let result = try await body(store)
    await client.close()
    return result
  } catch {
    await client.close()
    throw error
  }
}
