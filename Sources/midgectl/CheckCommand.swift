import ArgumentParser
import Logging
import NSDB
import Topology
import ZooKeeper

/// `midgectl check`: runtime state that no longer matches the topology or the live hosts —
/// what a failover must never leave behind. Exits 1 when it finds any.
struct Check: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract:
      "Find objects whose stored bytes cannot be decoded, and orphaned runtime state: ports active on dead hosts, MAC entries of ports that are gone, liveness of unknown hosts."
  )

  @OptionGroup var cluster: ClusterOptions

  func run() async throws {
    let problems = try await cluster.withStore(readOnly: true) { store in
      try await Self.problems(store)
    }
    if problems.isEmpty {
      print("no orphaned state")
      return
    }
    for problem in problems { print(problem) }
    throw ExitCode(1)
  }

  static func problems(_ store: NSDBStore) async throws -> [String] {
    let logger = Logger(label: "midgectl.check")
    let (snapshot, corrupt) = try await store.scan()
    let hosts = HostState(client: store.client, paths: store.paths, logger: logger)
    let ports = PortState(client: store.client, paths: store.paths, logger: logger)
    var problems: [String] = corrupt.map {
      "\($0); `midgectl raw get \($0.type.rawValue) \($0.id)` shows it, `midgectl raw delete` or re-applying a file that names it repairs it"
    }
    var alive = Set<ID>()
    for host in snapshot.hosts.values where try await hosts.isAlive(host.id) {
      alive.insert(host.id)
    }
    // Liveness nodes of hosts the topology does not know.
    let hostStates = (try? await store.client.children(store.paths.state + "/Host").children) ?? []
    for child in hostStates {
      guard let id = ID(child), snapshot.hosts[id] == nil else { continue }
      if try await store.client.exists(store.paths.hostAlive(id)) != nil {
        problems.append("host \(id) is alive but is not in the topology")
      }
    }
    // Active ports: the port exists, is bound to the serving host, and that host lives.
    let portStates = (try? await store.client.children(store.paths.state + "/Port").children) ?? []
    for child in portStates {
      guard let id = ID(child), let active = try? await ports.activeState(id) else { continue }
      let name = snapshot.ports[id]?.name ?? id.description
      let host = snapshot.hosts[active.host]?.name ?? active.host.description
      if snapshot.ports[id] == nil {
        problems.append("port \(id) is active on \(host) but does not exist")
      } else if !alive.contains(active.host) {
        problems.append("port \(name) is active on \(host), which is not alive")
      } else if let port = snapshot.ports[id], port.hostId != active.host,
        port.candidate(for: active.host) == nil
      {
        problems.append("port \(name) is active on \(host), which it is not bound to")
      }
    }
    // MAC table entries pointing at ports that are gone or off the bridge.
    for bridge in snapshot.bridges.values {
      let table = MACTable.macTable(
        client: store.client, paths: store.paths, bridge: bridge.id, logger: logger)
      for (mac, port) in (try? await table.snapshot()) ?? [:] where !bridge.portIds.contains(port) {
        problems.append("bridge \(bridge.name) learned \(mac) on port \(port), which is not on it")
      }
    }
    return problems.sorted()
  }
}
