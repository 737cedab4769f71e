import Datapath
import Foundation
import Glibc
import Kubernetes
import MidgeTestSupport
import Testing

/// The Kubernetes end-to-end scenario, shared by the world of agents on loopback
/// (`K8sWorld`) and the world of hosts on a real underlay (`K8sClusterWorld`): the pods,
/// the manifests, how a pod's namespace is plumbed, and the allow/deny truth both
/// worlds must show. Only where the pods run (their node) differs.
enum K8sScenario {
  struct PodSpec: Sendable {
    let namespace: String  // Kubernetes namespace
    let name: String
    let ip: String
    let gateway: String
    var key: String { "\(namespace)/\(name)" }
  }

  /// A pod as a network namespace: its eth0 has the pod's address and the translated
  /// MAC (anti-spoofing drops anything else); the other end of its veth, on the node,
  /// has the translated interface name the pod's port is bound to.
  struct PodVM: Sendable {
    let spec: PodSpec
    let netns: String
    let interface: String
    let mac: String
    let node: String
    var ip: String { spec.ip }
  }

  static let pods: [PodSpec] = [
    PodSpec(namespace: "x", name: "a", ip: "10.62.1.10", gateway: "10.62.1.1"),
    PodSpec(namespace: "x", name: "c", ip: "10.62.1.12", gateway: "10.62.1.1"),
    PodSpec(namespace: "y", name: "b", ip: "10.62.2.11", gateway: "10.62.2.1"),
  ]

  static let serviceIP = "10.96.62.10"

  /// A policy isolating y/b for ingress and admitting only x/a on its TCP port 80 (by
  /// the port's name), and a service in front of y/b.
  static let policy = """
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
      clusterIP: \(serviceIP)
      ports: [{name: http, port: 80, targetPort: serve-80-tcp}]
    """

  /// The manifests: namespaces x and y, the pods on the nodes `nodes` names (by pod
  /// key), then `extra` documents.
  static func manifests(nodes: [String: String], extra: String) -> String {
    var docs = ["x", "y"].map { "kind: Namespace\nmetadata: {name: \($0), labels: {ns: \($0)}}" }
    for pod in pods {
      docs.append(
        """
        kind: Pod
        metadata: {name: \(pod.name), namespace: \(pod.namespace), labels: {pod: \(pod.name)}}
        spec:
          nodeName: \(nodes[pod.key] ?? "-")
          containers: [{name: c, ports: [{name: serve-80-tcp, containerPort: 80}]}]
        status: {podIP: \(pod.ip)}
        """)
    }
    if !extra.isEmpty { docs.append(extra) }
    return docs.joined(separator: "\n---\n")
  }

  /// The pods' namespaces as the translation names their ports: interface and MAC
  /// derive from the port's id (`K8sNames`), so any translation of the same pods gives
  /// the same ones. `netns` names each pod's namespace.
  static func podVMs(
    _ translation: K8sTranslation, nodes: [String: String], netns: (PodSpec) -> String
  ) throws -> [String: PodVM] {
    var vms: [String: PodVM] = [:]
    for spec in pods {
      guard let port = translation.snapshot.ports.values.first(where: { $0.name == spec.key }),
        let interface = port.interfaceName, let node = nodes[spec.key]
      else { throw HarnessError("the translation has no port \(spec.key) with an interface") }
      vms[spec.key] = PodVM(
        spec: spec, netns: netns(spec), interface: interface,
        mac: K8sNames.mac(port.id).description, node: node)
    }
    return vms
  }

  /// Makes the pod's namespace and its veth: the node's end in `nodeNamespace` (nil:
  /// the root namespace, where the loopback world's agents run). Every link is made
  /// with `ip -n` inside its namespace.
  static func plumb(_ vm: PodVM, nodeNamespace: String?) throws {
    let node = nodeNamespace.map { ["-n", $0] } ?? []
    let pod = ["ip", "-n", vm.netns]
    let steps: [[String]] = [
      ["ip", "netns", "add", vm.netns],
      pod + ["link", "set", "lo", "up"],
      ["ip"] + node + [
        "link", "add", vm.interface, "mtu", "1500", "type", "veth", "peer", "name", "eth0",
        "netns", vm.netns, "mtu", "1500", "address", vm.mac,
      ],
      pod + ["addr", "add", "\(vm.ip)/24", "dev", "eth0"],
      pod + ["link", "set", "eth0", "up"],
      pod + ["route", "add", "default", "via", vm.spec.gateway],
      ["ip"] + node + ["link", "set", vm.interface, "up"],
    ]
    for step in steps {
      let result = runCommand(step)
      guard result.status == 0 else {
        throw HarnessError("\(step.joined(separator: " ")) failed: \(result.output)")
      }
    }
  }

  // MARK: The truth

  /// Without policies: pods reach each other in one namespace and routed, ICMP, TCP and
  /// UDP.
  static func expectOpen(_ world: some PodNetwork) async {
    #expect(
      await world.pingsEventually("x/a", "10.62.1.12"), "\(world.pair("x/a", "x/c")): one bridge")
    #expect(await world.pingsEventually("x/a", "10.62.2.11"), "\(world.pair("x/a", "y/b")): routed")
    #expect(
      await world.tcp("x/c", to: "y/b", address: "10.62.2.11", port: 80),
      "\(world.pair("x/c", "y/b")): TCP 80")
    #expect(
      await world.udp("x/a", to: "x/c", address: "10.62.1.12", port: 80).echoed,
      "\(world.pair("x/a", "x/c")): UDP 80 and its echo")
    #expect(
      await world.udp("x/c", to: "y/b", address: "10.62.2.11", port: 80).echoed,
      "\(world.pair("x/c", "y/b")): UDP 80 and its echo, routed")
  }

  /// With `policy`: only x/a reaches y/b, and only on TCP 80 (also through the
  /// service's cluster IP); y/b, not isolated for egress, reaches x/a (not isolated
  /// for ingress), and the replies reach the isolated y/b as return flows.
  static func expectPolicy(_ world: some PodNetwork) async {
    #expect(
      await world.pingsEventually("y/b", "10.62.1.10"),
      "\(world.pair("y/b", "x/a")) and its replies to the isolated y/b")
    #expect(
      await world.tcp("x/a", to: "y/b", address: "10.62.2.11", port: 80),
      "\(world.pair("x/a", "y/b")): TCP 80 allowed")
    #expect(
      await world.tcp("x/a", to: "y/b", address: serviceIP, port: 80),
      "\(world.pair("x/a", "y/b")): TCP 80 allowed through the service's cluster IP")
    #expect(
      !(await world.tcp("x/c", to: "y/b", address: "10.62.2.11", port: 80)),
      "\(world.pair("x/c", "y/b")): x/c is not x/a")
    #expect(!world.ping("x/a", "10.62.2.11"), "\(world.pair("x/a", "y/b")): ICMP is not TCP 80")
    // UDP: the same port number, another protocol.
    let echo = await world.udp("y/b", to: "x/a", address: "10.62.1.10", port: 80)
    #expect(echo.echoed, "\(world.pair("y/b", "x/a")): UDP 80, the echo reaches the isolated y/b")
    let denied = await world.udp(
      "x/a", to: "y/b", address: "10.62.2.11", port: 80, expectDrop: true)
    #expect(
      denied.delivered == 0 && denied.sent > 0,
      "\(world.pair("x/a", "y/b")): UDP 80 is not TCP 80 (\(denied))")
    let other = await world.udp(
      "x/c", to: "y/b", address: "10.62.2.11", port: 80, expectDrop: true)
    #expect(
      other.delivered == 0 && other.sent > 0, "\(world.pair("x/c", "y/b")): UDP 80 (\(other))")
    #expect(
      await world.udp("x/c", to: "x/a", address: "10.62.1.10", port: 80).echoed,
      "\(world.pair("x/c", "x/a")): UDP 80, x/a is not isolated")
  }
}

/// A world of pods as network namespaces: what the shared checks need.
protocol PodNetwork: Sendable {
  func pod(_ key: String) -> K8sScenario.PodVM
  /// How long a first exchange may take to get through (first simulations, topology
  /// loads, ARP).
  var settleTimeout: Duration { get }
  /// The bound of one TCP transfer (the SYN resends included).
  var tcpTimeout: Duration { get }
}

extension PodNetwork {
  /// "x/a (node-1) → y/b (node-2)", for messages.
  func pair(_ from: String, _ to: String) -> String {
    "\(from) (\(pod(from).node)) → \(to) (\(pod(to).node))"
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
    await eventually(timeout: settleTimeout, every: .milliseconds(100)) {
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
        port: port, timeout: tcpTimeout)
      if !result.intact {
        print("tcp \(from) → \(address):\(port): \(result.bytes) bytes, \(result.error ?? "-")")
      }
      return result.intact
    } catch {
      print("tcp \(from) → \(address):\(port) failed: \(error)")
      return false
    }
  }

  /// UDP datagrams from one pod to `address:port`, echoed by pod `server`. Until the
  /// first echo (at most `settleTimeout`), or, with `expectDrop`, five datagrams over a
  /// second and another second for any late one.
  func udp(
    _ from: String, to server: String, address: String, port: UInt16, expectDrop: Bool = false
  ) async -> UDPExchange.Outcome {
    do {
      return try await UDPExchange.run(
        server: pod(server).netns, client: pod(from).netns, address: address, port: port,
        datagrams: expectDrop ? 5 : Int(settleTimeout.components.seconds) * 5,
        every: .milliseconds(200), stopOnEcho: !expectDrop)
    } catch {
      print("udp \(from) → \(address):\(port) failed: \(error)")
      return UDPExchange.Outcome()
    }
  }
}

/// A UDP exchange between two namespaces: the server echoes every datagram it gets.
/// Non-blocking sockets made inside the namespaces, polled every 10 ms from the calling
/// task; bounded by the number of datagrams and one second of linger.
enum UDPExchange {
  struct Outcome: Sendable, CustomStringConvertible {
    var sent = 0
    var delivered = 0
    var echoes = 0
    var echoed: Bool { echoes > 0 }
    var description: String { "sent \(sent), delivered \(delivered), echoed \(echoes)" }
  }

  /// Non-blocking, close-on-exec datagram sockets.
  static let datagramFlags =
    Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue)

  static func run(
    server: String, client: String, address: String, port: UInt16, datagrams: Int,
    every interval: Duration, stopOnEcho: Bool
  ) async throws -> Outcome {
    // Close-on-exec: an agent a concurrent test restarts meanwhile must not inherit the
    // listener and keep its port bound in the pod after this exchange closes it.
    let listener = try NetworkNamespace.withNamespace(server) {
      socket(AF_INET, datagramFlags, 0)
    }
    guard listener >= 0 else { throw HarnessError("socket in \(server): \(errno)") }
    defer { close(listener) }
    let sender = try NetworkNamespace.withNamespace(client) {
      socket(AF_INET, datagramFlags, 0)
    }
    guard sender >= 0 else { throw HarnessError("socket in \(client): \(errno)") }
    defer { close(sender) }
    var local = sockaddr_in()
    local.sin_family = sa_family_t(AF_INET)
    local.sin_port = port.bigEndian
    guard withSockaddr(&local, { bind(listener, $0, $1) }) == 0 else {
      throw HarnessError("bind UDP \(port) in \(server): errno \(errno)")
    }
    var remote = sockaddr_in()
    remote.sin_family = sa_family_t(AF_INET)
    remote.sin_port = port.bigEndian
    guard inet_pton(AF_INET, address, &remote.sin_addr) == 1 else {
      throw HarnessError("bad address \(address)")
    }

    var outcome = Outcome()
    var buffer = [UInt8](repeating: 0, count: 2048)
    let clock = ContinuousClock()
    var nextSend = clock.now
    var lastSend = clock.now
    let polls = Int((interval * datagrams + .seconds(1)) / .milliseconds(10)) + 1
    for _ in 0..<polls {
      if outcome.sent < datagrams && clock.now >= nextSend {
        let payload = Array("midge udp \(outcome.sent)".utf8)
        let count = payload.withUnsafeBytes { bytes in
          withSockaddr(&remote) { sendto(sender, bytes.baseAddress, bytes.count, 0, $0, $1) }
        }
        if count > 0 { outcome.sent += 1 }
        lastSend = clock.now
        nextSend = lastSend + interval
      }
      // The server echoes what it got to where it came from.
      for _ in 0..<64 {
        var peer = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let count = buffer.withUnsafeMutableBytes { bytes in
          withUnsafeMutablePointer(to: &peer) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
              recvfrom(listener, bytes.baseAddress, bytes.count, 0, $0, &length)
            }
          }
        }
        guard count >= 0 else { break }
        outcome.delivered += 1
        _ = buffer.withUnsafeBytes { bytes in
          withUnsafePointer(to: &peer) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
              sendto(listener, bytes.baseAddress, count, 0, $0, length)
            }
          }
        }
      }
      for _ in 0..<64 {
        let count = buffer.withUnsafeMutableBytes { recv(sender, $0.baseAddress, $0.count, 0) }
        guard count >= 0 else { break }
        outcome.echoes += 1
      }
      if stopOnEcho && outcome.echoed { break }
      if outcome.sent >= datagrams && clock.now - lastSend > .seconds(1) { break }
      try? await Task.sleep(for: .milliseconds(10))
    }
    return outcome
  }

  private static func withSockaddr<R>(
    _ address: inout sockaddr_in, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R
  ) -> R {
    withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        body($0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
  }
}
