import ArgumentParser
import Logging
import NSDB
import Topology

struct Hosts: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Hosts, whether each is alive (its agent holds a session), and its ports.")

  @OptionGroup var cluster: ClusterOptions

  func run() async throws {
    try await cluster.withStore { store in
      let state = HostState(
        client: store.client, paths: store.paths, logger: Logger(label: "midgectl"))
      var rows: [Row] = []
      let (hosts, corrupt) = try await store.readAll(Host.self)
      warnCorrupt(corrupt)
      for host in hosts {
        let alive = try await state.isAlive(host.id)
        let interfaces = (try? await state.interfaces(host.id)) ?? []
        rows.append(
          Row(
            type: "Host", name: host.name, id: "\(host.id)",
            details: [
              "alive": alive ? "yes" : "NO", "ports": "\(host.portIds.count)",
              "interfaces": interfaces.joined(separator: ","),
            ]))
      }
      printTable(rows.sorted { $0.name < $1.name })
    }
  }
}

struct Ports: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Ports, where each is bound, and which host serves it now (its `active` state).")

  @OptionGroup var cluster: ClusterOptions

  func run() async throws {
    try await cluster.withStore { store in
      let state = PortState(
        client: store.client, paths: store.paths, logger: Logger(label: "midgectl"))
      let snapshot = try await store.snapshot()
      var rows: [Row] = []
      for port in snapshot.ports.values {
        var details: [String: String] = ["key": "\(port.tunnelKey)"]
        if let host = port.hostId {
          details["bound"] =
            "\(snapshot.hosts[host]?.name ?? "\(host)"):\(port.interfaceName ?? "?")"
        } else if let peer = port.peerId {
          details["bound"] = "peer \(snapshot.ports[peer]?.name ?? "\(peer)")"
        }
        if let active = try await state.activeState(port.id) {
          details["served-by"] = snapshot.hosts[active.host]?.name ?? "\(active.host)"
          details["active"] = "yes"
        } else {
          details["active"] = port.isExterior ? "NO" : "-"
        }
        rows.append(Row(type: "Port", name: port.name, id: "\(port.id)", details: details))
      }
      printTable(rows.sorted { $0.name < $1.name })
    }
  }
}
