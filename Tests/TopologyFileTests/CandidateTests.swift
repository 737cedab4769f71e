import Foundation
import Testing
import Topology
import TopologyFile

@Suite("Ports several hosts can serve: candidates in the file, the model and the wire")
struct CandidateTests {
  static let file = """
    tunnelZones: [{name: tz}]
    hosts:
      - {name: h1, tunnelZone: tz, address: 127.0.0.1, port: 7001}
      - {name: h2, tunnelZone: tz, address: 127.0.0.1, port: 7002}
    routers:
      - name: r
        ports:
          - name: uplink
            address: 10.99.0.1/24
            candidates:
              - {host: h1, interface: up1, priority: 10}
              - {host: h2, interface: up2}
    """

  @Test("candidates parse into the port, validate, export and survive the wire")
  func roundTrip() throws {
    let topology = try TopologyFile.parse(Self.file)
    let port = try #require(topology.ports.values.first { $0.name == "uplink" })
    #expect(port.hostId == nil)
    #expect(port.isExterior)
    #expect(
      port.candidates == [
        PortCandidate(hostId: TopologyFile.id(.host, "h1"), interfaceName: "up1", priority: 10),
        PortCandidate(hostId: TopologyFile.id(.host, "h2"), interfaceName: "up2", priority: 0),
      ])
    #expect(port.candidate(for: TopologyFile.id(.host, "h2"))?.interfaceName == "up2")
    #expect(topology.validate().isEmpty)
    #expect(try Port(wireBytes: port.wireBytes()) == port)
    let again = try TopologyFile.parse(
      TopologyFile.render(topology), tunnelKeys: topology.ports.mapValues(\.tunnelKey))
    #expect(again.ports[port.id]?.candidates == port.candidates)
  }

  @Test(
    "bad candidates are reported with their line",
    arguments: [
      ("{host: nowhere, interface: up1}", "no Host is named 'nowhere'"),
      ("{host: h1}", "a candidate needs 'host' and 'interface'"),
      ("{host: h1, interface: up1, weight: 3}", "weight"),
    ])
  func refused(_ entry: String, _ message: String) {
    let text = Self.file.replacingOccurrences(
      of: "{host: h2, interface: up2}", with: entry)
    #expect {
      _ = try TopologyFile.parse(text)
    } throws: { error in
      "\(error)".contains(message)
    }
  }

  @Test("a port with both a host and candidates, or a host named twice, is invalid")
  func invalid() throws {
    var topology = try TopologyFile.parse(Self.file)
    let id = try #require(topology.ports.values.first { $0.name == "uplink" }?.id)
    topology.ports[id]?.candidates.append(
      PortCandidate(hostId: TopologyFile.id(.host, "h1"), interfaceName: "again"))
    #expect(topology.validate().contains { "\($0)".contains("name a host twice") })
  }
}
