import Addresses
import ArgumentParser
import CommandSupport
import Foundation
import Logging
import NSDB
import Packets
import Simulation
import Topology

struct Trace: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Simulate a packet entering a port over the live topology and state, step by step.")

  enum Format: String, ExpressibleByArgument { case text, json }

  @OptionGroup var cluster: ClusterOptions
  @Option(help: "The ingress port's name.") var port: String
  @Option(help: "The packet, e.g. \"tcp 10.0.0.2:1234 > 10.0.1.5:80\" (tcp, udp or icmp).")
  var packet: String
  @Option(name: .shortAndLong, help: "text or json.") var output: Format = .text

  func run() async throws {
    let request: TraceRequest
    do {
      request = try TraceRequest(parsing: packet)
    } catch {
      throw CommandError("--packet: \(error)")
    }
    try await cluster.withStore { store in
      let topology = try await store.snapshot()
      guard let ingress = topology.ports.values.first(where: { $0.name == port }) else {
        throw CommandError("no port is named '\(port)' (see `midgectl get ports`)")
      }
      let view = try await liveView(store, topology)
      let localHost = ingress.hostId ?? ID(high: 0, low: 0)
      let result = try TraceRunner.run(
        request, ingress: ingress.id, view: view, localHost: localHost)
      print(render(result, topology: topology))
    }
  }

  /// Topology plus the state the agents publish: active ports, MAC and ARP tables.
  func liveView(_ store: NSDBStore, _ topology: TopologySnapshot) async throws -> SimulationView {
    let logger = Logger(label: "midgectl.trace")
    let ports = PortState(client: store.client, paths: store.paths, logger: logger)
    var active: [ID: PortActivation] = [:]
    for port in topology.ports.values where port.isExterior {
      if let state = try await ports.activeState(port.id) {
        active[port.id] = state
      }
    }
    var macs: [MACTableKey: ID] = [:]
    for bridge in topology.bridges.keys {
      let table = MACTable.macTable(
        client: store.client, paths: store.paths, bridge: bridge, logger: logger)
      for (mac, port) in (try? await table.snapshot()) ?? [:] {
        macs[MACTableKey(bridge: bridge, vlan: 0, mac: mac)] =
          port
      }
    }
    var arp: [DeviceIPKey: MACAddress] = [:]
    for router in topology.routers.keys {
      let table = ARPTable.arpTable(
        client: store.client, paths: store.paths, router: router, logger: logger)
      for (ip, mac) in (try? await table.snapshot()) ?? [:] {
        arp[DeviceIPKey(device: router, ip: ip)] =
          mac
      }
    }
    return SimulationView(topology: topology, macTable: macs, arpTable: arp, activePorts: active)
  }

  func render(_ result: SimulationResult, topology: TopologySnapshot) -> String {
    let verdict: String
    switch result.verdict {
    case .forward: verdict = "forward"
    case .drop(.ruleReject): verdict = "reject"
    case .drop: verdict = "drop"
    case .consumed: verdict = "consumed"
    case .awaitingARP: verdict = "awaiting-arp"
    case .notYet: verdict = "not-yet"
    }
    let egress = result.outputPorts.map { topology.ports[$0]?.name ?? "\($0)" }
    let steps = result.trace.map { named($0.description, topology) }
    if output == .json {
      let object: [String: Any] = [
        "verdict": verdict, "reason": named("\(result.verdict)", topology), "egressPorts": egress,
        "steps": steps,
      ]
      let data =
        (try? JSONSerialization.data(
          withJSONObject: object, options: [.prettyPrinted, .sortedKeys])) ?? Data()
      return String(decoding: data, as: UTF8.self)
    }
    var lines = steps.enumerated().map { "\($0 + 1). \($1)" }
    lines.append("verdict: \(verdict) (\(named("\(result.verdict)", topology)))")
    if !egress.isEmpty { lines.append("egress: \(egress.joined(separator: ", "))") }
    return lines.joined(separator: "\n")
  }

  /// Replaces the ids of named objects in `text` with their names.
  func named(_ text: String, _ topology: TopologySnapshot) -> String {
    topology.naming(text)
  }
}
