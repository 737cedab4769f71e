import Addresses
import Foundation
import Testing
import Topology
import TopologyFile

@Suite("Topology file: parsing and validation")
struct ParseTests {
  static let demo = """
    tunnelZones:
      - name: tz
    hosts:
      - name: h1
        tunnelZone: tz
        address: 127.0.0.1
    chains:
      - name: guard
        rules:
          - action: drop
            nwSrc: 10.0.0.9
            tpDst: 22
            nwProto: tcp
            not: [tpDst]
          - action: accept
    portGroups:
      - name: web
        stateful: true
    bridges:
      - name: a
        dhcp:
          subnet: 10.0.0.0/24
          hosts:
            - mac: 02:00:00:00:00:02
              ip: 10.0.0.2
        ports:
          - name: vm1
            host: h1
            interface: veth1
            inboundFilter: guard
            portGroups: [web]
      - name: b
        ports:
          - name: vm2
            tunnelKey: 77
    routers:
      - name: r
        ports:
          - name: r-a
            address: 10.0.0.1/24
            link: a
          - name: r-b
            address: 10.0.1.1/24
            link: b
        routes:
          - dst: 0.0.0.0/0
            port: r-a
            gateway: 10.0.0.254
    """

  @Test("a complete file resolves names to stable ids and fills every back-reference")
  func complete() throws {
    let snapshot = try TopologyFile.parse(Self.demo)
    #expect(snapshot.validate().isEmpty)
    let vm1 = TopologyFile.id(.port, "vm1")
    let bridge = try #require(snapshot.bridges[TopologyFile.id(.bridge, "a")])
    #expect(bridge.portIds == [vm1, TopologyFile.id(.port, "r-a-link")])
    #expect(bridge.dhcpIds.count == 1)
    let port = try #require(snapshot.ports[vm1])
    #expect(port.hostId == TopologyFile.id(.host, "h1"))
    #expect(port.inboundFilterId == TopologyFile.id(.chain, "guard"))
    #expect(port.tunnelKey != 0)
    #expect(snapshot.ports[TopologyFile.id(.port, "vm2")]?.tunnelKey == 77)
    let keys = snapshot.ports.values.map(\.tunnelKey)
    #expect(Set(keys).count == keys.count, "tunnel keys must be unique")
    let routerPort = try #require(snapshot.ports[TopologyFile.id(.port, "r-a")])
    #expect(routerPort.peerId == TopologyFile.id(.port, "r-a-link"))
    #expect(routerPort.portSubnet == IPv4Prefix("10.0.0.0/24"))
    let router = try #require(snapshot.routers[TopologyFile.id(.router, "r")])
    #expect(router.routeIds.count == 3, "two connected routes and the default route")
    let rule = try #require(snapshot.rules.values.first { $0.action == .drop })
    #expect(rule.condition.nwProto == 6)
    #expect(rule.condition.invTpDst)
    #expect(rule.condition.nwSrc == IPv4Prefix("10.0.0.9/32"))
    #expect(snapshot.hosts[TopologyFile.id(.host, "h1")]?.tunnelZoneIds.count == 1)
    #expect(snapshot.portGroups.values.first?.portIds == [vm1])
    // Parsing again gives the same topology: ids and keys are stable.
    #expect(try TopologyFile.parse(Self.demo) == snapshot)
  }

  @Test("every problem is reported with its line and field, and nothing is returned")
  func errors() {
    let broken = """
      bridges:
        - name: a
          colour: blue
          ports:
            - name: p1
              host: nowhere
              interface: veth0
            - name: p1
      routers:
        - name: r
          ports:
            - name: r1
              address: 10.0.0.1/24
            - name: r2
              address: 10.0.0.128/25
            - name: r3
              address: 300.1.1.1/24
          routes:
            - dst: 10.9.0.0/16
              port: ghost
      chains:
        - name: c
          rules:
            - action: explode
      """
    do {
      _ = try TopologyFile.parse(broken)
      Issue.record("a broken file parsed")
    } catch {
      let text = error.description
      let expected = [
        ("unknown field 'colour'", 3), ("no Host is named 'nowhere'", 6),
        ("declared twice", 8), ("overlaps", 15), ("not an IPv4 prefix", 17),
        ("no Port is named 'ghost'", 20), ("'explode' is not one of", 24),
      ]
      for (message, line) in expected {
        #expect(
          error.errors.contains { $0.message.contains(message) && $0.line == line },
          "missing '\(message)' at line \(line) in:\n\(text)")
      }
    }
  }

  @Test("not YAML at all is a clear error")
  func notYAML() {
    #expect(throws: TopologyFileErrors.self) { try TopologyFile.parse("bridges: [a, {") }
    #expect(throws: TopologyFileErrors.self) { try TopologyFile.parse("- just\n- a list") }
  }

  @Test("export renders a file that parses back to the same topology")
  func exportRoundTrip() throws {
    let snapshot = try TopologyFile.parse(Self.demo)
    let text = TopologyFile.render(snapshot)
    let again = try TopologyFile.parse(text)
    #expect(again == snapshot, "exported:\n\(text)")
  }
}

@Suite("Topology graph")
struct GraphTests {
  @Test("DOT names every device and exterior port, and draws links between devices")
  func dot() throws {
    let snapshot = try TopologyFile.parse(ParseTests.demo)
    let dot = TopologyGraph.dot(snapshot)
    #expect(dot.hasPrefix("digraph midge {"))
    #expect(dot.contains("label=\"bridge a\""))
    #expect(dot.contains("label=\"router r\""))
    #expect(dot.contains("vm1\\nh1:veth1"))
    #expect(dot.contains("r-a ↔ r-a-link") || dot.contains("r-a-link ↔ r-a"))
    #expect(dot.components(separatedBy: "dir=both").count - 1 == 2, "two router links")
  }
}
