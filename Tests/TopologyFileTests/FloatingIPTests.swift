import Addresses
import Packets
import Simulation
import Testing
import Topology
import TopologyFile

@Suite("Floating IPs in the topology file")
struct FloatingIPTests {
  static let text = """
    hosts:
      - name: h1
    chains:
      - name: edge-guard
        rules:
          - action: accept
    bridges:
      - name: a
        ports:
          - name: vm1
            host: h1
            interface: veth1
    routers:
      - name: r
        inboundFilter: edge-guard
        ports:
          - name: r-a
            address: 10.0.0.1/24
            link: a
          - name: uplink
            address: 100.64.0.1/24
            host: h1
            interface: up0
        routes:
          - dst: 0.0.0.0/0
            port: uplink
            gateway: 100.64.0.254
        floatingIps:
          - external: 100.64.0.10
            internal: 10.0.0.2
            port: uplink
    """

  @Test(
    "a floating IP becomes static DNAT before routing and SNAT after, keeping the router's own filter"
  )
  func translation() throws {
    let snapshot = try TopologyFile.parse(Self.text)
    let router = try #require(snapshot.routers[TopologyFile.id(.router, "r")])
    let pre = try #require(router.inboundFilterId.flatMap { snapshot.chains[$0] })
    let post = try #require(router.outboundFilterId.flatMap { snapshot.chains[$0] })
    #expect(pre.name == "r-fip-pre")
    #expect(post.name == "r-fip-post")
    let dnat = try #require(snapshot.rules[pre.ruleIds[0]])
    #expect(dnat.action == .dnat(targets: [NatTarget(address: IPv4Address(10, 0, 0, 2))]))
    #expect(dnat.condition.nwDst == IPv4Prefix("100.64.0.10/32"))
    #expect(dnat.condition.inPortIds == [TopologyFile.id(.port, "uplink")])
    #expect(
      snapshot.rules[pre.ruleIds[1]]?.action
        == .jump(chainId: TopologyFile.id(.chain, "edge-guard")))
    let snat = try #require(snapshot.rules[post.ruleIds[0]])
    #expect(snat.action == .snat(targets: [NatTarget(address: IPv4Address(100, 64, 0, 10))]))
    #expect(snapshot.validate().isEmpty)
    // Export writes the floating IP back, not the generated chains.
    let exported = TopologyFile.render(snapshot)
    #expect(exported.contains("floatingIps:"))
    #expect(!exported.contains("r-fip-pre"))
    #expect(try TopologyFile.parse(exported) == snapshot)
  }

  @Test("traffic to the floating IP reaches the VM with its fixed address")
  func simulated() throws {
    let snapshot = try TopologyFile.parse(Self.text)
    let host = TopologyFile.id(.host, "h1")
    var active: [ID: PortActivation] = [:]
    for port in snapshot.ports.values where port.isExterior {
      active[port.id] = .init(host: host, tunnelKey: port.tunnelKey)
    }
    let vmMAC = MACAddress(0x02, 0, 0, 0, 0, 0x02)
    let router = TopologyFile.id(.router, "r")
    let view = SimulationView(
      topology: snapshot,
      macTable: [
        MACTableKey(bridge: TopologyFile.id(.bridge, "a"), vlan: 0, mac: vmMAC): TopologyFile.id(
          .port, "vm1")
      ],
      arpTable: [DeviceIPKey(device: router, ip: IPv4Address(10, 0, 0, 2)): vmMAC],
      activePorts: active)
    let uplink = TopologyFile.id(.port, "uplink")
    let uplinkMAC = try #require(snapshot.ports[uplink]?.portMAC)
    let request = try TraceRequest(parsing: "tcp 198.51.100.7:5555 > 100.64.0.10:80")
    let frame = try request.frame(
      source: MACAddress(0x02, 0, 0, 0, 0xEE, 0x01),
      destination: uplinkMAC)
    let result = Simulator(localHost: host).simulate(
      try SimulationPacket(frame: frame), ingress: uplink, view: view, trace: true)
    #expect(result.verdict == .forward, "\(result.trace)")
    #expect(result.outputPorts == [TopologyFile.id(.port, "vm1")])
    #expect(result.actions.contains(.setNetworkDestination(IPv4Address(10, 0, 0, 2))))
  }
}
