import Kubernetes
import Simulation
import Testing
import Topology

/// Network-policy truth tables in the style of the upstream e2e tests: each
/// policy set with its expected allow/deny matrix, checked by simulating the
/// first packet of every connection over the translated topology.
@Suite("NetworkPolicy truth tables (x, y, z × a, b, c; 80/81; TCP/UDP)")
struct TruthTableTests {
  typealias Pod = Cluster.PodRef

  @Test("no policy: everything is allowed")
  func noPolicy() throws {
    try Expectation.everything.check(try Cluster.translate())
  }

  @Test("a policy that selects no pod isolates nothing")
  func selectsNothing() throws {
    let policy = """
      apiVersion: networking.k8s.io/v1
      kind: NetworkPolicy
      metadata: {name: nobody, namespace: x}
      spec:
        podSelector: {matchLabels: {pod: nobody}}
        policyTypes: [Ingress, Egress]
      """
    try Expectation.everything.check(try Cluster.translate(policy))
  }

  @Test("deny all ingress in x")
  func denyAllIngress() throws {
    let policy = """
      apiVersion: networking.k8s.io/v1
      kind: NetworkPolicy
      metadata: {name: deny-all, namespace: x}
      spec:
        podSelector: {}
        policyTypes: [Ingress]
      """
    try Expectation { _, to, _, _ in to.namespace != "x" }.check(try Cluster.translate(policy))
  }

  @Test("allow from the same namespace only (policyTypes defaulted)")
  func sameNamespace() throws {
    let policy = """
      apiVersion: networking.k8s.io/v1
      kind: NetworkPolicy
      metadata: {name: same-ns, namespace: x}
      spec:
        podSelector: {}
        ingress:
        - from:
          - podSelector: {}
      """
    try Expectation { from, to, _, _ in to.namespace != "x" || from.namespace == "x" }
      .check(try Cluster.translate(policy))
  }

  @Test("namespaceSelector and podSelector in one peer are ANDed")
  func andPeer() throws {
    let policy = """
      apiVersion: networking.k8s.io/v1
      kind: NetworkPolicy
      metadata: {name: and, namespace: x}
      spec:
        podSelector: {matchLabels: {pod: a}}
        ingress:
        - from:
          - namespaceSelector: {matchLabels: {ns: y}}
            podSelector: {matchLabels: {pod: b}}
      """
    try Expectation { from, to, _, _ in
      to != Pod(namespace: "x", name: "a") || from == Pod(namespace: "y", name: "b")
    }.check(try Cluster.translate(policy))
  }

  @Test("namespaceSelector and podSelector in separate peers are ORed")
  func orPeers() throws {
    let policy = """
      apiVersion: networking.k8s.io/v1
      kind: NetworkPolicy
      metadata: {name: or, namespace: x}
      spec:
        podSelector: {matchLabels: {pod: a}}
        ingress:
        - from:
          - namespaceSelector: {matchLabels: {ns: y}}
          - podSelector: {matchLabels: {pod: b}}
      """
    try Expectation { from, to, _, _ in
      to != Pod(namespace: "x", name: "a") || from.namespace == "y"
        || from == Pod(namespace: "x", name: "b")
    }.check(try Cluster.translate(policy))
  }

  @Test("ipBlock except narrows only its own peer")
  func ipBlockExcept() throws {
    // y's subnet is excepted from the block, but y/b is allowed by the
    // second peer (pods named b in every namespace).
    let policy = """
      apiVersion: networking.k8s.io/v1
      kind: NetworkPolicy
      metadata: {name: block, namespace: x}
      spec:
        podSelector: {matchLabels: {pod: a}}
        ingress:
        - from:
          - ipBlock: {cidr: 10.0.0.0/16, except: [10.0.2.0/24]}
          - namespaceSelector: {}
            podSelector: {matchLabels: {pod: b}}
      """
    try Expectation { from, to, _, _ in
      to != Pod(namespace: "x", name: "a") || from.namespace != "y" || from.name == "b"
    }.check(try Cluster.translate(policy))
  }

  @Test("a named port allows that port and protocol only")
  func namedPort() throws {
    let policy = """
      apiVersion: networking.k8s.io/v1
      kind: NetworkPolicy
      metadata: {name: named, namespace: x}
      spec:
        podSelector: {}
        ingress:
        - from: [{namespaceSelector: {}}]
          ports:
          - port: serve-81-tcp
      """
    try Expectation { _, to, port, proto in
      to.namespace != "x" || (port == 81 && proto == "tcp")
    }.check(try Cluster.translate(policy))
  }

  @Test("a named port resolves per pod")
  func namedPortPerPod() throws {
    // x/b calls its port 81 "web"; a and c have no "web" port at all.
    var manifests = try ManifestParser.parse(
      Cluster.yaml(
        """
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: web, namespace: x}
        spec:
          podSelector: {}
          ingress:
          - ports:
            - {port: web, protocol: UDP}
        """))
    let b = try #require(manifests.pods.firstIndex { $0.namespace == "x" && $0.name == "b" })
    manifests.pods[b].ports.append(.init(name: "web", port: 81, proto: .udp))
    let translation = try K8sTranslator().translate(manifests)
    try Expectation { _, to, port, proto in
      to.namespace != "x" || (to.name == "b" && port == 81 && proto == "udp")
    }.check(translation)
  }

  @Test("endPort makes a port range")
  func endPort() throws {
    let policy = """
      apiVersion: networking.k8s.io/v1
      kind: NetworkPolicy
      metadata: {name: range, namespace: y}
      spec:
        podSelector: {}
        ingress:
        - ports:
          - {protocol: UDP, port: 81, endPort: 90}
          - {protocol: TCP, port: 60, endPort: 80}
      """
    try Expectation { _, to, port, proto in
      to.namespace != "y" || (proto == "udp" && port == 81) || (proto == "tcp" && port == 80)
    }.check(try Cluster.translate(policy))
  }

  @Test("an Egress-only policy never opens ingress")
  func egressOnlyDoesNotOpenIngress() throws {
    let policies = """
      apiVersion: networking.k8s.io/v1
      kind: NetworkPolicy
      metadata: {name: deny-in, namespace: x}
      spec:
        podSelector: {}
        policyTypes: [Ingress]
      ---
      apiVersion: networking.k8s.io/v1
      kind: NetworkPolicy
      metadata: {name: egress-only, namespace: x}
      spec:
        podSelector: {}
        policyTypes: [Egress]
        egress: [{}]
        ingress: [{}]
      """
    try Expectation { _, to, _, _ in to.namespace != "x" }.check(try Cluster.translate(policies))
  }

  @Test("egress isolation: y/a may only reach z on TCP 80; its ingress stays open")
  func egress() throws {
    let policy = """
      apiVersion: networking.k8s.io/v1
      kind: NetworkPolicy
      metadata: {name: egress, namespace: y}
      spec:
        podSelector: {matchLabels: {pod: a}}
        policyTypes: [Egress]
        egress:
        - to: [{namespaceSelector: {matchLabels: {ns: z}}}]
          ports: [{port: 80}]
      """
    try Expectation { from, to, port, proto in
      from != Pod(namespace: "y", name: "a")
        || (to.namespace == "z" && port == 80 && proto == "tcp")
    }.check(try Cluster.translate(policy))
  }

  @Test("the allows of several policies are a union")
  func union() throws {
    let policies = """
      apiVersion: networking.k8s.io/v1
      kind: NetworkPolicy
      metadata: {name: from-y, namespace: z}
      spec:
        podSelector: {}
        ingress: [{from: [{namespaceSelector: {matchLabels: {ns: y}}}], ports: [{port: 80}]}]
      ---
      apiVersion: networking.k8s.io/v1
      kind: NetworkPolicy
      metadata: {name: from-x-udp, namespace: z}
      spec:
        podSelector: {matchLabels: {pod: c}}
        ingress: [{from: [{namespaceSelector: {matchLabels: {ns: x}}}], ports: [{protocol: UDP}]}]
      """
    try Expectation { from, to, port, proto in
      guard to.namespace == "z" else { return true }
      if from.namespace == "y" && port == 80 && proto == "tcp" { return true }
      return to.name == "c" && from.namespace == "x" && proto == "udp"
    }.check(try Cluster.translate(policies))
  }

  @Test("matchExpressions: NotIn, Exists, DoesNotExist")
  func matchExpressions() throws {
    let policy = """
      apiVersion: networking.k8s.io/v1
      kind: NetworkPolicy
      metadata: {name: expr, namespace: x}
      spec:
        podSelector:
          matchExpressions: [{key: pod, operator: In, values: [a, b]}]
        ingress:
        - from:
          - namespaceSelector:
              matchExpressions: [{key: ns, operator: NotIn, values: [y]}]
            podSelector:
              matchExpressions: [{key: pod, operator: Exists}, {key: tier, operator: DoesNotExist}]
      """
    try Expectation { from, to, _, _ in
      to.namespace != "x" || to.name == "c" || from.namespace != "y"
    }.check(try Cluster.translate(policy))
  }

  @Test("replies of allowed connections pass, though the client is isolated")
  func replies() throws {
    // Every pod is ingress- and egress-isolated; only x/a → y/b TCP 80 is allowed.
    let policies = """
      apiVersion: networking.k8s.io/v1
      kind: List
      items:
      - apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: deny, namespace: x}
        spec:
          podSelector: {}
          policyTypes: [Ingress, Egress]
          egress:
          - to: [{namespaceSelector: {matchLabels: {ns: y}}, podSelector: {matchLabels: {pod: b}}}]
            ports: [{port: 80}]
      - apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: deny, namespace: y}
        spec:
          podSelector: {}
          policyTypes: [Ingress, Egress]
          ingress:
          - from: [{namespaceSelector: {matchLabels: {ns: x}}, podSelector: {matchLabels: {pod: a}}}]
            ports: [{port: 80}]
      """
    let translation = try Cluster.translate(policies)
    var view = Cluster.view(translation)
    let a = Pod(namespace: "x", name: "a")
    let b = Pod(namespace: "y", name: "b")
    let forward = try Cluster.send("tcp", from: a, toAddress: Cluster.ip(b), port: 80, view: view)
    #expect(forward.verdict == .forward)
    #expect(forward.outputPorts == [Cluster.portID(b)])
    // The same packet back, before the forward flow's state exists, is a new
    // connection from y/b: denied both by y's egress and by x's ingress.
    let early = try Cluster.send(
      "tcp", from: b, toAddress: Cluster.ip(a), port: 40000, view: view, sourcePort: 80)
    #expect(early.verdict != .forward)
    view.apply(forward.stateChanges)
    let reply = try Cluster.send(
      "tcp", from: b, toAddress: Cluster.ip(a), port: 40000, view: view, sourcePort: 80)
    #expect(reply.verdict == .forward, "\(reply.trace)")
    #expect(reply.outputPorts == [Cluster.portID(a)])
    // The reverse direction is still closed for new connections.
    #expect(try !Cluster.allowed("tcp", b, a, 80, view: view))
    #expect(try !Cluster.allowed("tcp", a, b, 81, view: view))
  }
}
