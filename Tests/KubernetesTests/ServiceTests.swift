import Kubernetes
import Simulation
import Testing
import Topology

@Suite("Services: DNAT from cluster and external IPs to the endpoints")
struct ServiceTests {
  typealias Pod = Cluster.PodRef
  static let xa = Pod(namespace: "x", name: "a")
  static let ya = Pod(namespace: "y", name: "a")
  static let yb = Pod(namespace: "y", name: "b")

  /// y/web selects y/b: TCP 80 → its port named serve-81-tcp (81), UDP 53 → 80.
  static let service = """
    apiVersion: v1
    kind: Service
    metadata: {name: web, namespace: y}
    spec:
      type: ClusterIP
      selector: {pod: b}
      clusterIP: 10.96.0.10
      externalIPs: [198.51.100.7]
      ports:
      - {name: http, port: 80, targetPort: serve-81-tcp}
      - {name: dns, port: 53, protocol: UDP, targetPort: 80}
    ---
    apiVersion: v1
    kind: Service
    metadata: {name: empty, namespace: y}
    spec:
      selector: {pod: nobody}
      clusterIP: 10.96.0.11
      ports: [{port: 80}]
    """

  func binding(_ result: SimulationResult) -> NATBinding? {
    for change in result.stateChanges {
      if case .natBinding(let binding) = change { return binding }
    }
    return nil
  }

  @Test("a connection to the cluster IP reaches the endpoint's target port, and its reply returns")
  func clusterIP() throws {
    for client in [Self.xa, Self.ya] {
      var view = Cluster.view(try Cluster.translate(Self.service))
      let forward = try Cluster.send(
        "tcp", from: client, toAddress: "10.96.0.10", port: 80, view: view)
      #expect(forward.verdict == .forward, "\(client): \(forward.trace)")
      #expect(forward.outputPorts == [Cluster.portID(Self.yb)])
      let nat = try #require(binding(forward))
      #expect(nat.forward.description == "10.0.2.11:81")
      view.apply(forward.stateChanges)
      let reply = try Cluster.send(
        "tcp", from: Self.yb, toAddress: Cluster.ip(client), port: 40000, view: view,
        sourcePort: 81)
      #expect(reply.verdict == .forward, "\(client): \(reply.trace)")
      #expect(reply.outputPorts == [Cluster.portID(client)])
      #expect(reply.trace.contains { $0.kind == .nat }, "the reply is reverse-translated")
    }
  }

  @Test("UDP service port with a numeric target port, and the external IP from a pod")
  func udpAndExternal() throws {
    let view = Cluster.view(try Cluster.translate(Self.service))
    let udp = try Cluster.send("udp", from: Self.xa, toAddress: "10.96.0.10", port: 53, view: view)
    #expect(udp.verdict == .forward)
    #expect(binding(udp)?.forward.description == "10.0.2.11:80")
    let external = try Cluster.send(
      "tcp", from: Self.xa, toAddress: "198.51.100.7", port: 80, view: view)
    #expect(external.verdict == .forward)
    #expect(external.outputPorts == [Cluster.portID(Self.yb)])
    // Ports the service does not expose go nowhere near the endpoints.
    let other = try Cluster.send(
      "tcp", from: Self.xa, toAddress: "10.96.0.10", port: 81, view: view)
    #expect(other.outputPorts != [Cluster.portID(Self.yb)])
  }

  @Test("a service without endpoints rejects")
  func noEndpoints() throws {
    let view = Cluster.view(try Cluster.translate(Self.service))
    let result = try Cluster.send(
      "tcp", from: Self.xa, toAddress: "10.96.0.11", port: 80, view: view)
    guard case .drop(.ruleReject) = result.verdict else {
      Issue.record("expected a reject, got \(result.verdict)")
      return
    }
  }

  @Test("policies see the endpoint, after DNAT: ingress by target port, egress by endpoint")
  func policiesAfterDNAT() throws {
    let policies = """
      apiVersion: networking.k8s.io/v1
      kind: NetworkPolicy
      metadata: {name: only-80, namespace: y}
      spec:
        podSelector: {matchLabels: {pod: b}}
        ingress: [{ports: [{port: 80}]}]
      """
    let view = Cluster.view(try Cluster.translate(Self.service + "\n---\n" + policies))
    // The service sends TCP 80 to port 81, which y/b's policy does not allow.
    let denied = try Cluster.send(
      "tcp", from: Self.xa, toAddress: "10.96.0.10", port: 80, view: view)
    #expect(denied.verdict != .forward)
    // UDP 53 goes to UDP 80: also not allowed (the policy names TCP 80).
    #expect(try !Cluster.allowed("udp", Self.xa, Self.yb, 80, view: view))
    #expect(try Cluster.allowed("tcp", Self.xa, Self.yb, 80, view: view))

    let egress = """
      apiVersion: networking.k8s.io/v1
      kind: NetworkPolicy
      metadata: {name: to-b-81, namespace: x}
      spec:
        podSelector: {matchLabels: {pod: a}}
        policyTypes: [Egress]
        egress: [{to: [{namespaceSelector: {}, podSelector: {matchLabels: {pod: b}}}], ports: [{port: 81}]}]
      """
    let egressView = Cluster.view(try Cluster.translate(Self.service + "\n---\n" + egress))
    let viaService = try Cluster.send(
      "tcp", from: Self.xa, toAddress: "10.96.0.10", port: 80, view: egressView)
    #expect(viaService.verdict == .forward, "\(viaService.trace)")
    #expect(try !Cluster.allowed("tcp", Self.xa, Self.yb, 80, view: egressView))
  }
}
