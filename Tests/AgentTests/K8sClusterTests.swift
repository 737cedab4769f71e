import Foundation
import Kubernetes
import MidgeTestSupport
import Testing

/// The Kubernetes scenario (`K8sScenario`) on a cluster built by `ops/cluster up --hosts 3
/// --vms-per-host 0`: three hosts in network namespaces on a veth/bridge underlay, a
/// ZooKeeper ensemble of three on it, an agent in each host. The manifests name the
/// cluster's hosts as the pods' nodes, one pod per host (x/a on host-1, y/b on host-2,
/// x/c on host-3), so every pair the scenario checks crosses the underlay; they are
/// applied with `midgectl k8s apply` from host-1's namespace, as an operator would. Each
/// pod is a namespace behind its host's namespace (the veth's host end has the translated
/// interface name). The cluster's `down` deletes the pods' namespaces with its own: they
/// carry its prefix.
final class K8sClusterWorld: PodNetwork, @unchecked Sendable {
  static let nodes = ["x/a": "host-1", "y/b": "host-2", "x/c": "host-3"]

  let cluster: ClusterWorld
  let pods: [String: K8sScenario.PodVM]
  /// How long `midgectl k8s apply` took, and until every pod's port was active.
  let applyDuration: Duration
  let activeDuration: Duration

  /// A first exchange across hosts: two simulations (sender's and, for the reply, the
  /// receiver's host), on-demand loads of bridges, chains and address groups from
  /// ZooKeeper over the underlay, ARP; well under a second on an idle machine. 20 s
  /// for a loaded 2-core machine (`ops/cluster up` itself takes ten times longer there).
  let settleTimeout = Duration.seconds(20)
  /// 64 KB once connected take milliseconds; a SYN lost while flows are being set up is
  /// sent again after 1 s and 3 s (Linux's doubling RTO): 8 s covers two resends.
  let tcpTimeout = Duration.seconds(8)

  func pod(_ key: String) -> K8sScenario.PodVM { pods[key]! }

  /// Plumbs the pods into `cluster`'s host namespaces, applies the manifests (the
  /// scenario's pods on `nodes`, then `extra`) with `midgectl k8s apply` inside host-1,
  /// and waits until each pod's port is active on its host. The caller owns `cluster`
  /// and takes it down whatever happens here.
  init(cluster: ClusterWorld, extra: String) async throws {
    self.cluster = cluster
    let manifests = K8sScenario.manifests(nodes: Self.nodes, extra: extra)
    // Translated here only for the interface names and MACs (they derive from the
    // ports' names); what the agents use is what `midgectl k8s apply` stores.
    let translation = try K8sTranslator().translate(yaml: manifests)
    let prefix = cluster.namespacePrefix
    pods = try K8sScenario.podVMs(translation, nodes: Self.nodes) { spec in
      "\(prefix)k8s-\(spec.namespace)-\(spec.name)"
    }
    for vm in pods.values {
      try K8sScenario.plumb(vm, nodeNamespace: cluster.host(vm.node).namespace)
    }

    let file = cluster.directory + "/k8s-manifests.yaml"
    try manifests.write(toFile: file, atomically: true, encoding: .utf8)
    defer { unlink(file) }
    guard let zk = cluster.values["ZK"], let bin = cluster.values["BIN"] else {
      throw HarnessError("ops/cluster up printed no ZK or BIN")
    }
    let began = ContinuousClock.now
    let apply = cluster.inNamespace(
      cluster.host("host-1").namespace,
      ["timeout", "60", bin + "/midgectl", "k8s", "apply", "--zk", zk, "-f", file]
        + (cluster.values["ADMIN_CREDENTIALS"].map { ["--credentials", $0] } ?? []),
      timeout: 70)
    applyDuration = ContinuousClock.now - began
    guard apply.status == 0 else {
      throw HarnessError("midgectl k8s apply exited \(apply.status):\n\(apply.output)")
    }

    // Each agent finds the port bound to it, attaches the interface and marks the port
    // active: one watch round trip and an interface lookup. 30 s for a loaded machine.
    for vm in pods.values {
      let active = await eventually(timeout: .seconds(30), every: .milliseconds(100)) {
        guard let body = try? cluster.control(vm.node, "/ports"),
          let row = portRows(body)[vm.spec.key]
        else { return false }
        return row["attached"] as? Bool == true && row["activeOn"] as? String == vm.node
      }
      guard active else {
        throw HarnessError(
          "\(vm.spec.key) never became active on \(vm.node):\n\(cluster.agentLog(vm.node))")
      }
    }
    activeDuration = ContinuousClock.now - began
  }

  /// What of the pods shows in the root namespace: their address ranges and the
  /// service's address, besides the cluster's own traces.
  func rootTraces() -> [String] {
    rootNamespaceTraces(cluster, also: ["10.62.", K8sScenario.serviceIP])
  }
}

@Suite(
  "Kubernetes NetworkPolicy over a cluster: one pod per host, real TCP, UDP and ICMP across the underlay",
  .serialized, .requires(Requirement.cluster))
struct K8sClusterTests {
  @Test(
    "without policies pods on three hosts reach each other: one bridge across hosts, and routed")
  func open() async throws {
    let cluster = try await ClusterWorld.up(hosts: 3, vmsPerHost: 0)
    defer { cluster.down() }
    let world = try await K8sClusterWorld(cluster: cluster, extra: "")
    report(world)
    let began = ContinuousClock.now
    await K8sScenario.expectOpen(world)
    print("the open checks took \(ContinuousClock.now - began)")
    #expect(world.rootTraces().isEmpty, "\(world.rootTraces())")
  }

  @Test(
    "a policy on host-2's pod admits only host-1's x/a on TCP 80, also through the service; replies cross back; the rest is dropped"
  )
  func policy() async throws {
    let cluster = try await ClusterWorld.up(hosts: 3, vmsPerHost: 0)
    defer { cluster.down() }
    let world = try await K8sClusterWorld(cluster: cluster, extra: K8sScenario.policy)
    report(world)
    let began = ContinuousClock.now
    await K8sScenario.expectPolicy(world)
    print("the policy checks took \(ContinuousClock.now - began)")
    // The pods' traffic crosses the underlay: right after y/b's ping, x/a's reply has a
    // flow on host-1 tunnelling to host-2 (a MAC learned meanwhile may replace it, hence
    // the retries).
    let tunnel = "to=\(cluster.host("host-2").address):6677"
    let tunnelling = await eventually(timeout: .seconds(10), every: .milliseconds(100)) {
      world.ping("y/b", world.pod("x/a").ip, count: 1)
        && ((try? cluster.control("host-1", "/flows"))?.contains(tunnel) ?? false)
    }
    #expect(tunnelling, "host-1 never tunnelled x/a's replies to host-2")
    #expect(world.rootTraces().isEmpty, "\(world.rootTraces())")
  }

  private func report(_ world: K8sClusterWorld) {
    let placement = K8sScenario.pods.map { "\($0.key) on \(world.pod($0.key).node)" }
    print(
      "ops/cluster up --hosts 3 --vms-per-host 0 took \(world.cluster.upDuration); "
        + "midgectl k8s apply \(world.applyDuration), ports active after \(world.activeDuration); "
        + placement.joined(separator: ", "))
  }
}
