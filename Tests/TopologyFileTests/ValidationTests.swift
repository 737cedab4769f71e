import Foundation
import Testing
import Topology
import TopologyFile

@Suite("Topology file: names and addresses are validated, with the file's line")
struct ValidationTests {
  /// The errors of a file that must be refused.
  func errors(_ text: String) -> [TopologyFileError] {
    do {
      _ = try TopologyFile.parse(text)
      Issue.record("the file parsed:\n\(text)")
      return []
    } catch {
      return error.errors
    }
  }

  /// Expects exactly one error, on `line`, whose message contains `words`.
  func refused(
    _ text: String, line: Int, _ words: String, sourceLocation: SourceLocation = #_sourceLocation
  ) {
    let found = errors(text)
    #expect(found.count == 1, "\(found)", sourceLocation: sourceLocation)
    #expect(found.first?.line == line, "\(found)", sourceLocation: sourceLocation)
    #expect(
      found.first?.description.contains(words) == true, "\(found)", sourceLocation: sourceLocation)
  }

  static let router = """
    routers:
      - name: r
        ports:
          - {name: r-a, address: 10.0.0.1/24}
          - {name: r-b, address: 10.0.1.1/24}
    """

  @Test("names with control characters, edge whitespace or over 255 bytes are refused")
  func names() {
    refused("bridges:\n  - name: \"a\\nb\"\n", line: 2, "control character U+000A")
    refused("bridges:\n  - name: \"a\\u0007\"\n", line: 2, "control character U+0007")
    refused("chains:\n  - name: \"x\\u2028y\"\n", line: 2, "control character")
    refused("hosts:\n  - name: \" h\"\n", line: 2, "begins or ends with whitespace")
    refused(
      "portGroups:\n  - name: \(String(repeating: "g", count: 256))\n", line: 2,
      "is 256 bytes long; a name has at most 255")
    refused(
      "bridges:\n  - name: b\n    dhcp:\n      subnet: 10.0.0.0/24\n      hosts:\n        - {mac: 02:00:00:00:00:01, ip: 10.0.0.2, name: \"x\\ty\"}\n",
      line: 6, "control character U+0009")
    // Unicode and '/' are fine (the Kubernetes translation names pods ns/pod).
    #expect((try? TopologyFile.parse("bridges:\n  - name: ns/bücher-α\n")) != nil)
  }

  @Test("interface names Linux would refuse are refused")
  func interfaces() {
    let prefix = "hosts:\n  - name: h\nbridges:\n  - name: b\n    ports:\n"
    for (interface, words) in [
      ("abcdefghijklmnop", "is 16 bytes long; Linux allows at most 15"),
      ("\"a/b\"", "contains '/'"), ("\"a b\"", "contains U+0020"), ("\"a:1\"", "contains ':'"),
      ("\".\"", "'.' is not an interface name"), ("\"..\"", "'..' is not an interface name"),
      ("\"\"", "must not be empty"), ("\"e\\tx\"", "contains U+0009"),
    ] {
      refused(prefix + "      - {name: p, host: h, interface: \(interface)}\n", line: 6, words)
    }
    refused(
      prefix + "      - name: p\n        candidates: [{host: h, interface: \"x y\"}]\n", line: 7,
      "contains U+0020")
    #expect(
      (try? TopologyFile.parse(prefix + "      - {name: p, host: h, interface: abcdefghijklmno}\n"))
        != nil)
  }

  @Test("prefixes with host bits set are refused where they name a network")
  func prefixes() {
    refused(
      Self.router + "\n    routes:\n      - {dst: 10.2.0.1/16, port: r-a}\n", line: 7,
      "10.2.0.1/16 has host bits set; the network is 10.2.0.0/16")
    refused(
      "bridges:\n  - name: b\n    dhcp: {subnet: 10.0.0.9/24}\n", line: 3,
      "the network is 10.0.0.0/24")
    refused(
      "chains:\n  - name: c\n    rules:\n      - {action: drop, nwSrc: 10.0.0.1/8}\n", line: 4,
      "has host bits set")
    refused(
      "chains:\n  - name: c\n    rules:\n      - {action: drop, nwDst: 10.0.0.0/33}\n", line: 4,
      "is not an IPv4 prefix")
  }

  @Test("router port addresses are host addresses of their subnet")
  func routerPorts() {
    refused(
      "routers:\n  - name: r\n    ports:\n      - {name: p, address: 10.0.0.0/24}\n", line: 4,
      "is the network address of 10.0.0.0/24")
    refused(
      "routers:\n  - name: r\n    ports:\n      - {name: p, address: 10.0.0.255/24}\n", line: 4,
      "is the broadcast address")
    refused(
      "routers:\n  - name: r\n    ports:\n      - {name: p, address: 224.0.0.1/24}\n", line: 4,
      "multicast")
    // A /31 has no network or broadcast address.
    #expect(
      (try? TopologyFile.parse(
        "routers:\n  - name: r\n    ports:\n      - {name: p, address: 10.0.0.0/31}\n")) != nil)
  }

  @Test("route gateways are neighbours on the route's port, which is the router's own")
  func gateways() {
    refused(
      Self.router + "\n    routes:\n      - {dst: 0.0.0.0/0, port: r-a, gateway: 10.9.9.9}\n",
      line: 7, "gateway 10.9.9.9 is not on port 'r-a''s subnet 10.0.0.0/24")
    refused(
      Self.router + "\n    routes:\n      - {dst: 0.0.0.0/0, port: r-a, gateway: 10.0.0.1}\n",
      line: 7, "is port 'r-a''s own address")
    refused(
      Self.router + "\n    routes:\n      - {dst: 0.0.0.0/0, type: blackhole, gateway: 10.0.0.2}\n",
      line: 7, "only a route of type 'port' has a gateway")
    refused(
      Self.router
        + "\n  - name: other\n    ports:\n      - {name: o, address: 10.5.0.1/24}\n    routes:\n      - {dst: 0.0.0.0/0, port: r-a}\n",
      line: 10, "'r-a' is not a port of router 'other'")
    #expect(
      (try? TopologyFile.parse(
        Self.router + "\n    routes:\n      - {dst: 0.0.0.0/0, port: r-a, gateway: 10.0.0.254}\n"))
        != nil)
  }

  @Test("DHCP, tunnel endpoints, VLANs and VNIs are checked against their ranges")
  func addressesAndNumbers() {
    refused(
      "bridges:\n  - name: b\n    dhcp: {subnet: 10.0.0.0/24, gateway: 10.1.0.1}\n", line: 3,
      "10.1.0.1 is outside 10.0.0.0/24")
    refused(
      "bridges:\n  - name: b\n    dhcp:\n      subnet: 10.0.0.0/24\n      hosts: [{mac: 02:00:00:00:00:01, ip: 10.0.0.255}]\n",
      line: 5, "is the broadcast address")
    refused(
      "tunnelZones: [{name: z}]\nhosts:\n  - {name: h, tunnelZone: z, address: 0.0.0.0}\n", line: 3,
      "is in 0.0.0.0/8")
    refused(
      "tunnelZones: [{name: z}]\nhosts:\n  - {name: h, tunnelZone: z, address: 10.0.0.1, port: 0}\n",
      line: 3, "0 is outside 1...65535")
    refused(
      "bridges:\n  - name: b\n    ports: [{name: p, vlan: 4095}]\n", line: 3,
      "4095 is outside 0...4094")
    refused("bridges:\n  - {name: b, vni: 16777216}\n", line: 2, "is outside 0...16777215")
    refused(
      "chains:\n  - name: c\n    rules:\n      - {action: drop, tpDst: 80-}\n", line: 4,
      "is not a port or a range")
  }

  @Test("export output of valid names applies back: no name export writes is refused")
  func exportRoundTrip() throws {
    let text = "bridges:\n  - name: \"ns/ünïcode-name with spaces\"\n"
    let topology = try TopologyFile.parse(text)
    #expect(try TopologyFile.parse(TopologyFile.render(topology)) == topology)
  }

  @Test("an export keeps a router's routes in file order, so applying it gives them their ids back")
  func routeOrderRoundTrip() throws {
    // The fuzzer's find (Fuzz/regressions/topologyfile/route-order.yaml): routes are named
    // by position, while the router keeps their ids sorted.
    let text = """
      routers:
        - name: r
          ports:
            - {name: p, address: 10.0.0.1/24}
          routes:
            - {dst: 10.0.0.0/8, port: p, gateway: 10.0.0.9}
            - {dst: 10.1.0.0/16, port: p, gateway: 10.0.0.8}
            - {dst: 172.16.0.0/12, type: blackhole}
      """
    let topology = try TopologyFile.parse(text)
    let again = try TopologyFile.parse(TopologyFile.render(topology))
    #expect(again == topology)
    #expect(Set(again.routes.keys) == Set(topology.routes.keys))
  }

  @Test("a tunnel zone's members do not depend on the order the file lists its hosts")
  func zoneMemberOrderRoundTrip() throws {
    // The fuzzer's find (Fuzz/regressions/topologyfile/zone-member-order.yaml).
    let text = """
      tunnelZones: [{name: z}]
      hosts:
        - {name: b, tunnelZone: z, address: 10.0.0.2}
        - {name: a, tunnelZone: z, address: 10.0.0.1}
      """
    let topology = try TopologyFile.parse(text)
    #expect(try TopologyFile.parse(TopologyFile.render(topology)) == topology)
  }

  @Test("a host's ports do not depend on the order the file lists its bridges")
  func hostPortOrderRoundTrip() throws {
    // The fuzzer's find (Fuzz/regressions/topologyfile/host-port-order.yaml).
    let text = """
      tunnelZones: [{name: z}]
      hosts:
        - {name: h, tunnelZone: z, address: 10.0.0.1}
      bridges:
        - name: tenant2-a
          ports: [{name: p1, host: h, interface: if1}]
        - name: tenant-b
          ports: [{name: p2, host: h, interface: if2}]
      """
    let topology = try TopologyFile.parse(text)
    #expect(try TopologyFile.parse(TopologyFile.render(topology)) == topology)
  }

  @Test(
    "names with a quote before a combining mark, backslashes or format characters read back",
    arguments: [
      "a\"\u{0730}b", "\"\u{0301}", "back\\slash\"", "\\\u{0301}\"", "bom\u{FEFF}x",
      "zero\u{200B}width", "te\u{FFFD}atiay su\"\"\"\"\"\",\"\"\"\"\"\"\u{0730}u",
    ])
  func quotedNamesRoundTrip(_ name: String) throws {
    // The fuzzer's find (Fuzz/regressions/topologyfile/quote-combining-mark.yaml).
    var topology = TopologySnapshot()
    topology.insert(Bridge(id: ID(name: "Bridge/\(name)"), name: name))
    let text = TopologyFile.render(topology)
    let again = try TopologyFile.parse(text)
    #expect(again.bridges.values.map(\.name) == [name], "\(text)")
  }
}
