import MidgeTestSupport
import Testing
import Topology
import ZooKeeper

@testable import NSDB

@Suite("apply under failure")
struct ApplyAtomicityTests {
  /// One bridge named `tag` with `ports` ports named `tag-<n>`.
  func topology(_ tag: String, ports: Int) -> TopologySnapshot {
    var snapshot = TopologySnapshot()
    let bridge = ID.named("bridge-\(tag)")
    let portIDs = (0..<ports).map { ID.named("port-\(tag)-\($0)") }
    snapshot.insert(Bridge(id: bridge, name: tag, portIds: portIDs))
    for (index, id) in portIDs.enumerated() {
      snapshot.insert(
        Port(id: id, device: .bridge(bridge), tunnelKey: UInt32(index + 1), name: "\(tag)-\(index)")
      )
    }
    return snapshot
  }

  @Test(
    "the ZooKeeper server killed in the middle of an apply leaves the old or the new topology, never a mix"
  )
  func killedDuringApply() async throws {
    try await ZooKeeperServer.with { server in
      var outcomes: [String] = []
      for trial in 0..<4 {
        let root = "/atomic-\(trial)"
        let old = topology("old", ports: 20)
        let new = topology("new", ports: 1_500)
        let writer = try await server.client(sessionTimeout: .seconds(6), label: "writer")
        let store = NSDBStore(client: writer, root: root, logger: ZooKeeperServer.logger("a"))
        try await store.setUp()
        try await store.apply(old, prune: true)
        let applying = Task { try await store.apply(new, prune: true) }
        try await Task.sleep(for: .milliseconds(trial * 15))
        try await server.kill(member: 1)
        let result = await applying.result
        try await server.restart(member: 1)
        await writer.close()

        try await server.withClient(sessionTimeout: .seconds(6), label: "reader") { client in
          let reader = NSDBStore(client: client, root: root, logger: ZooKeeperServer.logger("r"))
          let bridges = try await reader.getAll(Bridge.self)
          let ports = try await reader.getAll(Port.self)
          let names = Set(bridges.map(\.name))
          #expect(names == ["old"] || names == ["new"], "bridges after the kill: \(names)")
          let tag = names.first ?? "?"
          #expect(ports.count == (tag == "old" ? 20 : 1_500), "\(ports.count) ports with \(tag)")
          #expect(ports.allSatisfy { $0.name.hasPrefix(tag + "-") }, "ports of both topologies")
          #expect(bridges.first?.portIds.count == ports.count, "the bridge lists its ports")
          let how: String
          switch result {
          case .success: how = "returned"
          case .failure(let error): how = "failed: \(error)".prefix(80).description
          }
          outcomes.append("\(tag) (apply \(how))")
        }
      }
      print("apply under a killed server: \(outcomes.joined(separator: "; "))")
    }
  }
}
