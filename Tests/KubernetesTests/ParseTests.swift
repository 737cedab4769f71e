import Addresses
import Kubernetes
import Testing
import Topology

@Suite("Manifest parsing")
struct ParseTests {
  @Test("several documents, a List, empty documents; unknown kinds are skipped with a warning")
  func documents() throws {
    let yaml = """
      ---
      apiVersion: v1
      kind: Namespace
      metadata: {name: x, labels: {team: blue}}
      ---
      apiVersion: apps/v1
      kind: Deployment
      metadata: {name: web, namespace: x}
      spec: {replicas: 3}
      ---
      ---
      apiVersion: v1
      kind: List
      items:
      - apiVersion: v1
        kind: Pod
        metadata: {name: a, namespace: x, labels: {app: web}, uid: 1234}
        spec:
          nodeName: node-1
          containers:
          - name: web
            image: nginx
            resources: {limits: {cpu: 1}}
            ports: [{name: http, containerPort: 8080}]
        status: {podIP: 10.1.0.5, phase: Running, conditions: [{type: Ready}]}
      - apiVersion: v1
        kind: ConfigMap
        metadata: {name: settings}
      - apiVersion: v1
        kind: Pod
        metadata: {name: pending, namespace: x}
        spec: {containers: [{name: c, image: i}]}
      """
    let manifests = try ManifestParser.parse(yaml)
    #expect(manifests.namespaces.map(\.name) == ["x"])
    #expect(manifests.namespaces[0].labels == ["team": "blue", K8sNamespace.nameLabel: "x"])
    #expect(manifests.pods.count == 1)
    let pod = manifests.pods[0]
    #expect(pod.labels == ["app": "web"])
    #expect(pod.nodeName == "node-1")
    #expect(pod.ip == IPv4Address(10, 1, 0, 5))
    #expect(pod.ports == [.init(name: "http", port: 8080, proto: .tcp)])
    #expect(manifests.warnings.count == 3, "\(manifests.warnings)")
    #expect(
      manifests.warnings.contains { $0.contains("Deployment web") && $0.contains("document 1") })
    #expect(
      manifests.warnings.contains { $0.contains("ConfigMap settings") && $0.contains("items[1]") })
    #expect(manifests.warnings.contains { $0.contains("x/pending") })
  }

  @Test("a network policy with every kind of peer and port")
  func policy() throws {
    let yaml = """
      apiVersion: networking.k8s.io/v1
      kind: NetworkPolicy
      metadata: {name: p, namespace: y}
      spec:
        podSelector:
          matchLabels: {app: db}
          matchExpressions: [{key: tier, operator: NotIn, values: [web]}]
        policyTypes: [Ingress, Egress]
        ingress:
        - from:
          - ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}
          - namespaceSelector: {matchLabels: {ns: x}}
            podSelector: {}
          ports:
          - {protocol: UDP, port: 53}
          - {port: 8000, endPort: 8080}
          - {port: http}
        egress: []
      """
    let policy = try #require(try ManifestParser.parse(yaml).policies.first)
    #expect(policy.policyTypes == [.ingress, .egress])
    #expect(policy.podSelector.matches(["app": "db"]))
    #expect(!policy.podSelector.matches(["app": "db", "tier": "web"]))
    #expect(policy.egress.isEmpty)
    let rule = try #require(policy.ingress.first)
    #expect(
      rule.peers == [
        .ipBlock(
          cidr: try IPv4Prefix(parsing: "10.0.0.0/8"),
          except: [try IPv4Prefix(parsing: "10.1.0.0/16")]),
        .pods(podSelector: .everything, namespaceSelector: LabelSelector(matchLabels: ["ns": "x"])),
      ])
    #expect(
      rule.ports == [
        .init(proto: .udp, port: .number(53)),
        .init(proto: .tcp, port: .number(8000), endPort: 8080),
        .init(proto: .tcp, port: .name("http")),
      ])
  }

  @Test("policyTypes defaults: Ingress, plus Egress when there are egress rules")
  func defaultTypes() throws {
    let yaml = """
      kind: NetworkPolicy
      metadata: {name: a}
      spec: {podSelector: {}}
      ---
      kind: NetworkPolicy
      metadata: {name: b}
      spec: {podSelector: {}, egress: [{}]}
      """
    let policies = try ManifestParser.parse(yaml).policies
    #expect(policies.map(\.policyTypes) == [[.ingress], [.ingress, .egress]])
    #expect(policies.map(\.namespace) == ["default", "default"])
  }

  @Test("errors name the document and the field; all are reported at once")
  func errors() {
    let yaml = """
      kind: Namespace
      metadata: {name: x}
      ---
      kind: Pod
      metadata: {name: a, namespace: x}
      spec: {nodeName: n}
      status: {podIP: 10.0.0.300}
      ---
      kind: NetworkPolicy
      metadata: {name: p, namespace: x}
      spec:
        podSelector: {matchExpressions: [{key: k, operator: Maybe}]}
        ingress: [{ports: [{port: 90, endPort: 80}, {port: http, endPort: 90}]}]
      ---
      metadata: {name: nokind}
      ---
      kind: Namespace
      metadata: {name: x}
      """
    do {
      _ = try ManifestParser.parse(yaml)
      Issue.record("expected errors")
    } catch {
      let text = error.errors.map(\.description)
      #expect(error.errors.contains { $0.document == 1 && $0.field == "status.podIP" }, "\(text)")
      #expect(
        error.errors.contains {
          $0.document == 2 && $0.field == "spec.podSelector.matchExpressions[0].operator"
        }, "\(text)")
      #expect(
        error.errors.contains {
          $0.document == 2 && $0.field == "spec.ingress[0].ports[0].endPort"
        },
        "\(text)")
      #expect(
        error.errors.contains {
          $0.document == 2 && $0.field == "spec.ingress[0].ports[1].endPort"
        },
        "\(text)")
      #expect(error.errors.contains { $0.document == 3 && $0.field == "kind" }, "\(text)")
      #expect(error.errors.contains { $0.code == .duplicate }, "\(text)")
      #expect(
        error.description.contains("document 1, status.podIP: '10.0.0.300' is not an IPv4 address"))
    }
  }

  @Test("text that is not YAML")
  func notYAML() {
    #expect(throws: K8sErrors.self) { try ManifestParser.parse("kind: [unclosed") }
  }

  @Test("label selectors: matchLabels and every operator")
  func selectors() {
    let labels = ["app": "web", "tier": "front"]
    #expect(LabelSelector.everything.matches([:]))
    #expect(LabelSelector(matchLabels: ["app": "web"]).matches(labels))
    #expect(!LabelSelector(matchLabels: ["app": "db"]).matches(labels))
    #expect(
      LabelSelector(matchExpressions: [.init(key: "app", op: .in, values: ["web", "db"])]).matches(
        labels))
    #expect(
      !LabelSelector(matchExpressions: [.init(key: "x", op: .in, values: ["1"])]).matches(labels))
    #expect(
      LabelSelector(matchExpressions: [.init(key: "x", op: .notIn, values: ["1"])]).matches(labels))
    #expect(
      !LabelSelector(matchExpressions: [.init(key: "tier", op: .notIn, values: ["front"])]).matches(
        labels))
    #expect(LabelSelector(matchExpressions: [.init(key: "tier", op: .exists)]).matches(labels))
    #expect(LabelSelector(matchExpressions: [.init(key: "x", op: .doesNotExist)]).matches(labels))
    #expect(
      !LabelSelector(
        matchLabels: ["app": "web"], matchExpressions: [.init(key: "tier", op: .doesNotExist)]
      ).matches(labels))
  }
}
