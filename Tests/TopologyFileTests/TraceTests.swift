import Addresses
import Foundation
import Packets
import Simulation
import Testing
import Topology
import TopologyFile

@Suite("Trace over a topology file (the path midgectl trace takes)")
struct TraceTests {
  static var demo: String {
    get throws {
      let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("ops/topologies/demo.yaml")
      return try String(contentsOf: url, encoding: .utf8)
    }
  }

  /// The demo topology with every exterior port active on its host, and the
  /// router knowing the MAC of 10.10.2.2 (vm-b1) and 10.10.2.3 (vm-b2).
  func view() throws -> (SimulationView, TopologySnapshot) {
    let topology = try TopologyFile.parse(try Self.demo)
    var active: [ID: PortActivation] = [:]
    for port in topology.ports.values where port.isExterior {
      active[port.id] = .init(host: port.hostId!, tunnelKey: port.tunnelKey)
    }
    let router = TopologyFile.id(.router, "edge")
    let bridge = TopologyFile.id(.bridge, "tenant-b")
    let b1 = MACAddress(0x02, 0, 0, 0, 0x0B, 0x01)
    let b2 = MACAddress(0x02, 0, 0, 0, 0x0B, 0x02)
    let view = SimulationView(
      topology: topology,
      macTable: [
        MACTableKey(bridge: bridge, vlan: 0, mac: b1): TopologyFile.id(.port, "vm-b1"),
        MACTableKey(bridge: bridge, vlan: 0, mac: b2): TopologyFile.id(.port, "vm-b2"),
      ],
      arpTable: [
        DeviceIPKey(device: router, ip: IPv4Address(10, 10, 2, 2)): b1,
        DeviceIPKey(device: router, ip: IPv4Address(10, 10, 2, 3)): b2,
      ],
      activePorts: active)
    return (view, topology)
  }

  @Test("an allowed routed connection is forwarded to the right VM, through the router")
  func allowed() throws {
    let (view, topology) = try view()
    let ingress = TopologyFile.id(.port, "vm-a1")
    let result = try TraceRunner.run(
      try TraceRequest(parsing: "tcp 10.10.1.2:40000 > 10.10.2.2:80"), ingress: ingress, view: view,
      localHost: topology.ports[ingress]!.hostId!)
    #expect(result.verdict == .forward, "\(result.trace)")
    #expect(result.outputPorts == [TopologyFile.id(.port, "vm-b1")])
    #expect(result.trace.contains { $0.kind == .router })
    // vm-b1 is on host-b, the packet enters on host-a: it leaves through a tunnel.
    #expect(result.actions.contains { if case .tunnel = $0 { return true } else { return false } })
  }

  @Test("the blocked pair is dropped by the demo's chain, and only that pair")
  func blocked() throws {
    let (view, topology) = try view()
    let a2 = TopologyFile.id(.port, "vm-a2")
    let host = topology.ports[a2]!.hostId!
    let blocked = try TraceRunner.run(
      try TraceRequest(parsing: "icmp 10.10.1.3 > 10.10.2.3"), ingress: a2, view: view,
      localHost: host)
    guard case .drop(.ruleDrop(let chain, _)) = blocked.verdict else {
      Issue.record("expected a rule drop, got \(blocked.verdict)")
      return
    }
    #expect(chain == TopologyFile.id(.chain, "block-a2-to-b2"))
    let other = try TraceRunner.run(
      try TraceRequest(parsing: "icmp 10.10.1.3 > 10.10.2.2"), ingress: a2, view: view,
      localHost: host)
    #expect(other.verdict == .forward)
  }

  @Test("bad packet descriptions are clear errors")
  func badRequests() {
    for text in [
      "tcp 10.0.0.1 > 10.0.0.2:80", "sctp 1.1.1.1:1 > 2.2.2.2:2", "tcp 10.0.0.300:1 > 1.1.1.1:1",
      "icmp 1.1.1.1",
    ] {
      #expect(throws: TraceRequestError.self) { try TraceRequest(parsing: text) }
    }
  }

  @Test("hostile packet strings never trap: each is an error naming what is wrong")
  func hostileRequests() {
    let cases: [(String, TraceRequestError.Code, String)] = [
      ("tcp : > 10.77.1.3:80", .badAddress, "no address"),
      ("tcp :80 > 10.77.1.3:80", .badAddress, "no address"),
      ("tcp 10.0.0.1: > 10.77.1.3:80", .badPort, "is not a port"),
      ("tcp 10.0.0.1:: > 10.77.1.3:80", .badPort, "is not a port"),
      ("tcp 10.0.0.1:65536 > 10.77.1.3:80", .badPort, "is not a port"),
      ("tcp 10.0.0.1:-1 > 10.77.1.3:80", .badPort, "is not a port"),
      ("tcp 10.0.0.1:+80 > 10.77.1.3:80", .badPort, "is not a port"),
      ("udp 10.0.0.1:1 > :", .badAddress, "no address"),
      ("udp 10.0.0.1:1 > 10.0.0.2", .missingPort, "needs a port"),
      ("icmp 10.0.0.1:7 > 10.0.0.2", .badPort, "icmp has no ports"),
      ("tcp 1.2.3 > 10.0.0.2:80", .badAddress, "is not an IPv4 address"),
      ("tcp 10.0.0.1:1 < 10.0.0.2:80", .notAPacket, "is not a packet"),
      ("tcp > > >", .badAddress, "is not an IPv4 address"),
      ("", .notAPacket, "is not a packet"),
      (":", .notAPacket, "is not a packet"),
      (">", .notAPacket, "is not a packet"),
      ("   ", .notAPacket, "is not a packet"),
      ("\u{0}\u{0} \u{0} > \u{0}", .unknownProtocol, "is not a protocol"),
      ("tcp \u{FF10}.0.0.1:1 > 10.0.0.2:80", .badAddress, "is not an IPv4 address"),
      ("tcp 10.0.0.1:\u{0661} > 10.0.0.2:80", .badPort, "is not a port"),
    ]
    for (text, code, words) in cases {
      do {
        let request = try TraceRequest(parsing: text)
        Issue.record("'\(text)' parsed as \(request)")
      } catch {
        #expect(error.code == code, "'\(text)': \(error)")
        #expect(error.description.contains(words), "'\(text)': \(error)")
      }
    }
    // The well-formed ones still parse.
    #expect(
      (try? TraceRequest(parsing: "TCP 10.0.0.1:0 > 10.0.0.2:65535"))?.destinationPort == 65535)
    #expect((try? TraceRequest(parsing: "icmp 10.0.0.1 > 10.0.0.2"))?.proto == .icmp)
  }
}
