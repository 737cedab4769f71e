import Addresses
import Kubernetes
import Packets
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
    // The service sends TCP 80 to port 81, which y/b's policy does not allow: a rule drops
    // it (not a missing route or an unknown address).
    let denied = try Cluster.send(
      "tcp", from: Self.xa, toAddress: "10.96.0.10", port: 80, view: view)
    guard case .drop(.ruleDrop) = denied.verdict else {
      Issue.record("expected the policy to drop it, got \(denied.verdict): \(denied.trace)")
      return
    }
    // The positive control: the same service, client and policy, allowing the endpoint's
    // port 81 instead of 80. The connection passes, so the drop above is the policy's
    // port check after DNAT, not a translation that blocks every service connection.
    let allowing = policies.replacingOccurrences(
      of: "ingress: [{ports: [{port: 80}]}]", with: "ingress: [{ports: [{port: 81}]}]")
    #expect(allowing != policies)
    let allowingView = Cluster.view(
      try Cluster.translate(Self.service + "\n---\n" + allowing))
    let admitted = try Cluster.send(
      "tcp", from: Self.xa, toAddress: "10.96.0.10", port: 80, view: allowingView)
    #expect(admitted.verdict == .forward, "\(admitted.trace)")
    #expect(admitted.outputPorts == [Cluster.portID(Self.yb)])
    #expect(try !Cluster.allowed("tcp", Self.xa, Self.yb, 80, view: allowingView))
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

  @Test("from outside, an external IP is DNATed by the router and the reply un-NATted")
  func externalFromUplink() throws {
    // The operator's uplink on k8s-router, as a separate topology file would add it.
    var translation = try Cluster.translate(Self.service)
    let router = K8sNames.id(.router, "k8s-router")
    let uplinkID = ID(name: "Port/uplink")
    let uplinkMAC = MACAddress(rawValue: 0x02_00_00_00_00_fe)
    let route = Route(
      id: ID(name: "Route/k8s-router/default"), routerId: router, dstPrefix: .all, nextHop: .port,
      nextHopPortId: uplinkID, nextHopGateway: IPv4Address(198, 51, 100, 254))
    translation.snapshot.insert(
      Port(
        id: uplinkID, device: .router(router), tunnelKey: 999, routeIds: [route.id],
        hostId: ID(name: "Host/gateway"), interfaceName: "eth1",
        portAddress: IPv4Address(198, 51, 100, 1),
        portSubnet: try IPv4Prefix(parsing: "198.51.100.0/24"), portMAC: uplinkMAC, name: "uplink"))
    translation.snapshot.insert(route)
    translation.snapshot.insert(
      Host(id: ID(name: "Host/gateway"), name: "gateway", portIds: [uplinkID]))
    translation.snapshot.routers[router]?.portIds.append(uplinkID)
    translation.snapshot.routers[router]?.routeIds.append(route.id)
    #expect(translation.snapshot.validate().isEmpty, "\(translation.snapshot.validate())")
    var view = Cluster.view(translation)
    view.activePorts[uplinkID] = .init(host: ID(name: "Host/gateway"), tunnelKey: 999)
    view.arpTable[DeviceIPKey(device: router, ip: IPv4Address(198, 51, 100, 254))] =
      MACAddress(0x02, 0, 0, 0, 0, 0xAA)

    let request = try TraceRequest(parsing: "tcp 203.0.113.5:5555 > 198.51.100.7:80")
    let frame = try request.frame(
      source: MACAddress(0x02, 0, 0, 0, 0, 0xAA),
      destination: uplinkMAC)
    let simulator = Simulator(localHost: ID(name: "Host/gateway"))
    let forward = simulator.simulate(
      try SimulationPacket(frame: frame), ingress: uplinkID, view: view, trace: true)
    #expect(forward.verdict == .forward, "\(forward.trace)")
    #expect(forward.outputPorts == [Cluster.portID(Self.yb)])
    #expect(binding(forward)?.forward.description == "10.0.2.11:81")
    view.apply(forward.stateChanges)
    let reply = try Cluster.send(
      "tcp", from: Self.yb, toAddress: "203.0.113.5", port: 5555, view: view, sourcePort: 81)
    #expect(reply.verdict == .forward, "\(reply.trace)")
    #expect(reply.outputPorts == [uplinkID])
    #expect(reply.trace.contains { $0.kind == .nat })
  }

  @Test("a service address inside a namespace subnet is refused")
  func addressInSubnet() {
    let bad = """
      apiVersion: v1
      kind: Service
      metadata: {name: web, namespace: y}
      spec: {selector: {pod: b}, clusterIP: 10.0.3.200, ports: [{port: 80}]}
      """
    #expect(throws: K8sErrors.self) { try Cluster.translate(bad) }
  }
}
