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

  /// Hosts a and b, and one bridge with `ports` ports, every one bound to `host`.
  func bound(to host: String, ports: Int) -> TopologySnapshot {
    var snapshot = TopologySnapshot()
    let bridge = ID.named("bridge-moving")
    let portIDs = (0..<ports).map { ID.named("port-moving-\($0)") }
    snapshot.insert(Bridge(id: bridge, name: "moving", portIds: portIDs))
    for (index, id) in portIDs.enumerated() {
      snapshot.insert(
        Port(
          id: id, device: .bridge(bridge), tunnelKey: UInt32(index + 1),
          hostId: ID.named("host-\(host)"), interfaceName: "tap\(index)", name: "moving-\(index)"))
    }
    for name in ["a", "b"] {
      snapshot.insert(
        Host(id: ID.named("host-\(name)"), name: name, portIds: name == host ? portIDs : []))
    }
    return snapshot
  }

  /// How long applying `new` over `old` takes on `server` undisturbed: the shortest of
  /// three, on a scratch root (0.4–0.5 s for 1,500 ports on the 2-core CI machine).
  func applyDuration(
    _ server: ZooKeeperServer, old: TopologySnapshot, new: TopologySnapshot
  ) async throws -> Duration {
    try await server.withClient(sessionTimeout: .seconds(6), label: "measure") { client in
      var shortest = Duration.seconds(3600)
      for run in 0..<3 {
        let store = NSDBStore(
          client: client, root: "/atomic-measure-\(run)", logger: ZooKeeperServer.logger("m"))
        try await store.setUp()
        try await store.apply(old, prune: true)
        let began = ContinuousClock.now
        try await store.apply(new, prune: true)
        shortest = min(shortest, ContinuousClock.now - began)
        try await client.deleteRecursively(store.paths.root)
      }
      return shortest
    }
  }

  @Test(
    "the ZooKeeper server killed in the middle of an apply leaves the old or the new topology, never a mix"
  )
  func killedDuringApply() async throws {
    try await ZooKeeperServer.with { server in
      let old = topology("old", ports: 20)
      let new = topology("new", ports: 1_500)
      let duration = try await applyDuration(server, old: old, new: new)
      var outcomes: [String] = []
      for trial in 0..<4 {
        let root = "/atomic-\(trial)"
        let writer = try await server.client(sessionTimeout: .seconds(6), label: "writer")
        let store = NSDBStore(client: writer, root: root, logger: ZooKeeperServer.logger("a"))
        try await store.setUp()
        try await store.apply(old, prune: true)
        // Killed at 0, 20, 40 and 60 % of what an undisturbed apply takes: from before
        // the first read to the middle of the commit.
        let killAt = duration * (Double(trial) / 5)
        let applying = Task { try await store.apply(new, prune: true) }
        try await Task.sleep(for: killAt)
        try server.killNow(member: 1)
        let result = await applying.result
        try await server.kill(member: 1)
        try await server.restart(member: 1)
        await writer.close()

        // The kill landed mid-apply: the apply did not return, it failed as a lost
        // server makes it fail. Before the commit was sent nothing can have changed.
        var committing = false
        switch result {
        case .success:
          Issue.record(
            "trial \(trial): the apply returned though the server was killed \(killAt) into its \(duration): the kill did not land mid-apply"
          )
        case .failure(let error as NSDBError):
          #expect(
            [.outcomeUnknown, .zookeeper, .closed].contains(error.code),
            "trial \(trial): the apply failed, but not from the lost server: \(error)")
          committing = error.code == .outcomeUnknown
        case .failure(let error):
          Issue.record("trial \(trial): the apply failed with \(error)")
        }

        try await server.withClient(sessionTimeout: .seconds(6), label: "reader") { client in
          let reader = NSDBStore(client: client, root: root, logger: ZooKeeperServer.logger("r"))
          let bridges = try await reader.getAll(Bridge.self)
          let ports = try await reader.getAll(Port.self)
          let names = Set(bridges.map(\.name))
          let allowed: Set<Set<String>> = committing ? [["old"], ["new"]] : [["old"]]
          #expect(allowed.contains(names), "trial \(trial): bridges after the kill: \(names)")
          let tag = names.first ?? "?"
          #expect(ports.count == (tag == "old" ? 20 : 1_500), "\(ports.count) ports with \(tag)")
          #expect(ports.allSatisfy { $0.name.hasPrefix(tag + "-") }, "ports of both topologies")
          #expect(bridges.first?.portIds.count == ports.count, "the bridge lists its ports")
          let how: String
          switch result {
          case .success: how = "returned"
          case .failure(let error): how = "failed: \(error)".prefix(80).description
          }
          outcomes.append("killed at \(killAt): \(tag) (apply \(how))")
        }
      }
      print(
        "apply under a killed server (an apply takes \(duration)): \(outcomes.joined(separator: "; "))"
      )
    }
  }

  @Test(
    "the ZooKeeper server killed in the middle of moving 1,500 ports from host a to host b leaves every one on a or every one on b, both hosts' lists agreeing"
  )
  func killedDuringMove() async throws {
    try await ZooKeeperServer.with { server in
      let old = bound(to: "a", ports: 1_500)
      let new = bound(to: "b", ports: 1_500)
      let duration = try await applyDuration(server, old: old, new: new)
      let (a, b) = (ID.named("host-a"), ID.named("host-b"))
      var outcomes: [String] = []
      for trial in 0..<4 {
        let root = "/atomic-move-\(trial)"
        let writer = try await server.client(sessionTimeout: .seconds(6), label: "writer")
        let store = NSDBStore(client: writer, root: root, logger: ZooKeeperServer.logger("a"))
        try await store.setUp()
        try await store.apply(old, prune: true)
        let killAt = duration * (Double(trial) / 5)
        let applying = Task { try await store.apply(new, prune: true) }
        try await Task.sleep(for: killAt)
        try server.killNow(member: 1)
        let result = await applying.result
        try await server.kill(member: 1)
        try await server.restart(member: 1)
        await writer.close()

        var committing = false
        switch result {
        case .success:
          Issue.record(
            "trial \(trial): the move returned though the server was killed \(killAt) into its \(duration): the kill did not land mid-apply"
          )
        case .failure(let error as NSDBError):
          #expect(
            [.outcomeUnknown, .zookeeper, .closed].contains(error.code),
            "trial \(trial): the move failed, but not from the lost server: \(error)")
          committing = error.code == .outcomeUnknown
        case .failure(let error):
          Issue.record("trial \(trial): the move failed with \(error)")
        }

        try await server.withClient(sessionTimeout: .seconds(6), label: "reader") { client in
          let reader = NSDBStore(client: client, root: root, logger: ZooKeeperServer.logger("r"))
          let ports = try await reader.getAll(Port.self)
          let hosts = Dictionary(
            uniqueKeysWithValues: try await reader.getAll(Host.self).map { ($0.id, $0) })
          let on = Set(ports.map(\.hostId))
          let allowed: Set<Set<ID?>> = committing ? [[a], [b]] : [[a]]
          #expect(ports.count == 1_500, "trial \(trial): \(ports.count) ports")
          #expect(allowed.contains(on), "trial \(trial): ports bound to \(on)")
          let host = on.first.flatMap { $0 } ?? a
          let other = host == a ? b : a
          #expect(
            Set(hosts[host]?.portIds ?? []) == Set(ports.map(\.id)),
            "trial \(trial): the ports' host does not list them all")
          #expect(
            hosts[other]?.portIds.isEmpty == true,
            "trial \(trial): the other host lists \(hosts[other]?.portIds.count ?? -1) ports")
          let how: String
          switch result {
          case .success: how = "returned"
          case .failure(let error): how = "failed: \(error)".prefix(80).description
          }
          outcomes.append(
            "killed at \(killAt): on \(host == a ? "a" : "b") (apply \(how))")
        }
      }
      print(
        "move under a killed server (a move takes \(duration)): \(outcomes.joined(separator: "; "))"
      )
    }
  }
}
