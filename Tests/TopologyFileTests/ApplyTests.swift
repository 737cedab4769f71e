import Addresses
import Foundation
import MidgeTestSupport
import NSDB
import Testing
import Topology
import TopologyFile

@Suite("midgectl apply against a real ZooKeeper")
struct ApplyTests {
  func withStore(_ name: String, _ body: (NSDBStore) async throws -> Void) async throws {
    let server = try await ZooKeeperServer.shared()
    try await server.withClient(label: name) { client in
      let store = NSDBStore(
        client: client, root: uniquePath(name), logger: ZooKeeperServer.logger(name))
      try await store.setUp()
      try await body(store)
      try await client.deleteRecursively(store.paths.root)
    }
  }

  @Test("apply is idempotent; a changed file changes only what differs; prune deletes the rest")
  func applyDiffPrune() async throws {
    try await withStore("apply") { store in
      let desired = try TopologyFile.parse(ParseTests.demo)
      let first = try await store.apply(desired, prune: false)
      #expect(first.creates.count == desired.count)
      #expect(first.updates.isEmpty && first.deletes.isEmpty)
      let again = try await store.apply(desired, prune: false)
      #expect(again.isEmpty, "re-applying changed: \(again)")
      #expect(
        try await store.get(Bridge.self, TopologyFile.id(.bridge, "a"))
          == desired.bridges[TopologyFile.id(.bridge, "a")])

      // Rename one bridge's port group membership and drop bridge b.
      let edited = ParseTests.demo
        .replacingOccurrences(of: "        portGroups: [web]\n", with: "")
      let changed = try TopologyFile.parse(edited)
      let plan = try await store.plan(changed, prune: false)
      #expect(plan.creates.isEmpty)
      #expect(Set(plan.updates.map(\.name)) == ["vm1", "web"])

      // Remove bridge b (and its router link) from the file: only --prune deletes.
      let smaller = try TopologyFile.parse(
        ParseTests.demo
          .replacingOccurrences(
            of: "  - name: b\n    ports:\n      - name: vm2\n        tunnelKey: 77\n", with: ""
          )
          .replacingOccurrences(
            of: "      - name: r-b\n        address: 10.0.1.1/24\n        link: b\n", with: ""))
      let kept = try await store.apply(smaller, prune: false)
      #expect(kept.deletes.isEmpty)
      #expect(try await store.exists(Bridge.self, TopologyFile.id(.bridge, "b")))
      let pruned = try await store.apply(smaller, prune: true)
      #expect(pruned.deletes.contains { $0.name == "b" })
      #expect(try await !store.exists(Bridge.self, TopologyFile.id(.bridge, "b")))
      #expect(try await !store.exists(Port.self, TopologyFile.id(.port, "vm2")))
      #expect(try await store.apply(smaller, prune: true).isEmpty)
    }
  }

  @Test("ports with candidates: the hosts list them once applied, and re-applying is a no-op")
  func candidates() async throws {
    try await withStore("apply-candidates") { store in
      let text = """
        hosts:
          - {name: gw-1}
          - {name: gw-2}
        bridges:
          - name: outside
            ports:
              - name: uplink
                candidates:
                  - {host: gw-1, interface: eth1, priority: 10}
                  - {host: gw-2, interface: eth1}
        """
      let desired = try TopologyFile.parse(text)
      try await store.apply(desired, prune: false)
      let uplink = TopologyFile.id(.port, "uplink")
      for host in ["gw-1", "gw-2"] {
        let stored = try await store.get(Host.self, TopologyFile.id(.host, host))
        #expect(stored.candidatePortIds == [uplink], "\(host)")
      }
      #expect(try await store.apply(desired, prune: false).isEmpty)
    }
  }

  /// Hosts m1 and m2, port p1 on m1 and port p2 on `host`.
  static func twoHosts(p2On host: String) -> String {
    """
    hosts:
      - {name: m1}
      - {name: m2}
    bridges:
      - name: b
        ports:
          - {name: p1, host: m1, interface: tap1}
          - {name: p2, host: \(host), interface: tap2}
    """
  }

  @Test(
    "a port's host changes in the file: diff shows the move, apply makes it in one multi, then nothing is left"
  )
  func portMoves() async throws {
    try await withStore("apply-move") { store in
      let (m1, m2) = (TopologyFile.id(.host, "m1"), TopologyFile.id(.host, "m2"))
      let (p1, p2) = (TopologyFile.id(.port, "p1"), TopologyFile.id(.port, "p2"))
      try await store.apply(try TopologyFile.parse(Self.twoHosts(p2On: "m2")), prune: false)
      let moved = try TopologyFile.parse(Self.twoHosts(p2On: "m1"))
      let plan = try await store.plan(moved, prune: false)
      #expect(
        plan.description
          == "~ Host m1\n~ Host m2\n~ Port p2: host m2 -> m1\n0 to create, 3 to update, 0 to delete",
        "\(plan)")
      #expect(try await store.get(Port.self, p2).hostId == m2, "diff wrote")

      let applied = try await store.apply(moved, prune: false)
      #expect(applied.description == plan.description)
      #expect(try await store.get(Port.self, p2).hostId == m1)
      #expect(try await store.get(Host.self, m1).portIds == [p1, p2].sorted())
      #expect(try await store.get(Host.self, m2).portIds.isEmpty)
      // The port and both hosts were written by the same ZooKeeper transaction.
      var zxids: Set<Int64> = []
      for (type, id) in [(ModelType.port, p2), (.host, m1), (.host, m2)] {
        zxids.insert(try await store.client.get(store.paths.object(type, id)).stat.mzxid)
      }
      #expect(zxids.count == 1, "the move took \(zxids.count) transactions")
      #expect(try await store.plan(moved, prune: false).isEmpty)
      #expect(try await store.plan(moved, prune: true).isEmpty)
    }
  }

  @Test("a file moving a port to a host it does not name is refused, naming the host")
  func portMovesNowhere() throws {
    #expect {
      try TopologyFile.parse(Self.twoHosts(p2On: "m3"))
    } throws: { error in
      "\(error)".contains("no Host is named 'm3'")
    }
  }

  @Test("re-applying a file keeps the tunnel endpoints agents published in its zones")
  func agentEndpointsSurvive() async throws {
    try await withStore("apply-endpoints") { store in
      let desired = try TopologyFile.parse("tunnelZones:\n  - name: default\n")
      try await store.apply(desired, prune: false)
      // What an agent's registration does: its host, and its endpoint in the zone.
      let zoneID = TopologyFile.id(.tunnelZone, "default")
      let host = ID(name: "Host/hv-7")
      let endpoint = TunnelZone.Endpoint(address: IPv4Address(rawValue: 0x7F00_0001), port: 6677)
      try await store.transaction { tx in
        try await tx.create(Host(id: host, name: "hv-7"))
        var zone = try await tx.get(TunnelZone.self, zoneID)!
        zone.members[host] = endpoint
        zone.hostIds = [host]
        try await tx.update(zone)
      }
      try await store.apply(desired, prune: false)
      let zone = try await store.get(TunnelZone.self, zoneID)
      #expect(zone.hostIds == [host])
      #expect(zone.members[host] == endpoint, "the agent's endpoint was dropped")
    }
  }

  @Test("export then apply on an empty NSDB recreates the topology exactly")
  func exportRecreates() async throws {
    try await withStore("export-src") { source in
      try await source.apply(try TopologyFile.parse(ParseTests.demo), prune: false)
      var stored = TopologySnapshot()
      for port in try await source.getAll(Port.self) { stored.ports[port.id] = port }
      for bridge in try await source.getAll(Bridge.self) { stored.bridges[bridge.id] = bridge }
      let full = try TopologyFile.parse(ParseTests.demo)
      #expect(stored.ports == full.ports)
      #expect(stored.bridges == full.bridges)
      let text = TopologyFile.render(full)
      try await withStore("export-dst") { target in
        try await target.apply(try TopologyFile.parse(text), prune: false)
        #expect(try await target.getAll(Port.self) == source.getAll(Port.self))
        #expect(try await target.getAll(Router.self) == source.getAll(Router.self))
        #expect(try await target.getAll(Route.self) == source.getAll(Route.self))
        #expect(try await target.getAll(Rule.self) == source.getAll(Rule.self))
      }
    }
  }
}
