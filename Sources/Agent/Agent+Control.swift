import AgentCore
import Datapath
import Foundation
import Logging
import Packets
import Simulation
import Topology

extension Agent {
  /// Starts the control API (and a separate metrics listener when configured).
  func startControlServers() async throws(AgentError) {
    let handler: @Sendable (ControlRequest) async -> ControlResponse = { [weak self] request in
      guard let self else { return ControlResponse(status: 503, body: "{}") }
      return await self.answer(request)
    }
    controlServers.append(
      try await ControlServer.start(
        address: configuration.controlAddress, logger: logger, handler: handler))
    if let metricsAddress = configuration.metricsAddress {
      let metricsOnly: @Sendable (ControlRequest) async -> ControlResponse = { request in
        guard request.path == "/metrics" else {
          return ControlResponse(status: 404, contentType: "text/plain", body: "only /metrics\n")
        }
        return await handler(request)
      }
      controlServers.append(
        try await ControlServer.start(address: metricsAddress, logger: logger, handler: metricsOnly)
      )
    }
  }

  /// The port the control API listens on (useful when configured with port 0).
  public var controlPort: UInt16? { controlServers.first?.port }

  /// Answers one control API request.
  func answer(_ request: ControlRequest) async -> ControlResponse {
    switch request.path {
    case "/", "/health":
      return json([
        "ready": isReady, "host": configuration.hostName, "hostId": hostID.description,
        "session": metrics.sessionState.load(ordering: .relaxed),
        "objects": snapshot.count, "attachedPorts": attached.count,
        "corruptObjects": corruptObjects.keys.sorted().map { ref -> [String: String] in
          ["type": ref.type.rawValue, "id": ref.id.description, "error": corruptObjects[ref] ?? ""]
        },
      ])
    case "/metrics":
      return ControlResponse(
        contentType: "text/plain; version=0.0.4",
        body: metrics.render(datapath: datapath?.counters() ?? [:], names: portNames()))
    case "/flows":
      return json(["flows": await flowRows()])
    case "/ports":
      return json(["ports": portRows()])
    case "/topology":
      return json(topologyRows())
    case "/trace":
      return await trace(request.query)
    case "/flowstate":
      return flowStateRows(request.query)
    default:
      return ControlResponse(
        status: 404, contentType: "text/plain",
        body:
          "unknown path \(request.path); try /health /flows /ports /topology /flowstate /trace /metrics\n"
      )
    }
  }

  /// Every installed flow, as the operator reads it.
  public func flowRows() async -> [[String: Any & Sendable]] {
    guard let datapath else { return [] }
    let names = portNames()
    let flows = await datapath.dump()
    return flows.map { flow in
      let match = flow.entry.match
      return [
        "inPort": names[match.ingressPort] ?? "\(match.ingressPort)",
        "match": describe(match),
        "actions": flow.entry.actions.map(\.description),
        "tags": flow.entry.tags.count,
        "packets": flow.stats.packets, "bytes": flow.stats.bytes,
      ]
    }
  }

  func portRows() -> [[String: Any & Sendable]] {
    let serving = Set(servingGatewayPorts)  // once, not per row
    return snapshot.ports.values.filter(\.isExterior).sorted { $0.name < $1.name }.map { port in
      var row: [String: Any & Sendable] = [
        "name": port.name, "interface": port.interfaceName ?? "",
        "host": port.hostId.map(hostLabel) ?? "",
        "local": port.hostId == hostID, "attached": attached[port.id] != nil,
      ]
      if let active = view.activePorts[port.id] {
        row["activeOn"] = hostLabel(active.host)
      }
      if let failure = attachFailures[port.id] { row["notAttached"] = failure }
      if let election = elections[port.id] {
        row["elected"] = "\(election.leadership)"
        row["serving"] = serving.contains(port.id)
      }
      return row
    }
  }

  /// `/flowstate?limit=N`: the conntrack entries and NAT bindings held, the longest idle
  /// first (at most `limit`, default 1000), with their age, idle time and timeout.
  func flowStateRows(_ query: [String: String]) -> ControlResponse {
    var limit = 1000
    if let text = query["limit"] {
      guard let value = Int(text), value >= 0 else {
        return ControlResponse(
          status: 400, contentType: "text/plain",
          body: "limit must be a whole number of entries, not '\(text)'\n")
      }
      limit = value
    }
    let now = ContinuousClock.now
    let table = core.flowState
    let seconds = { (duration: Duration) in (Double(duration.milliseconds) / 1000) }
    let rows = table.entries.sorted { $0.value.lastUsed < $1.value.lastUsed }.prefix(limit).map {
      key, entry -> [String: Any & Sendable] in
      var row: [String: Any & Sendable] = [
        "entry": key.description, "origin": entry.origin.rawValue,
        "protocol": Int(entry.ipProtocol), "age": seconds(now - entry.created),
        "idle": seconds(now - entry.lastUsed),
        "timeout": seconds(
          table.timeouts.timeout(ipProtocol: entry.ipProtocol, closing: entry.closing)),
      ]
      if entry.ipProtocol == IPProtocol.tcp.rawValue { row["closing"] = entry.closing }
      if case .natBinding(let binding) = entry.change {
        row["translation"] = "\(binding.forward)"
      }
      return row
    }
    return json([
      "conntrackEntries": table.conntrackCount, "natBindings": table.natCount,
      "expired": table.expired, "shown": rows.count, "entries": Array(rows),
    ])
  }

  func topologyRows() -> [String: Any & Sendable] {
    [
      "hosts": snapshot.hosts.values.map(\.name).sorted(),
      "bridges": snapshot.bridges.values.map(\.name).sorted(),
      "routers": snapshot.routers.values.map(\.name).sorted(),
      "ports": snapshot.ports.count, "routes": snapshot.routes.count,
      "objects": snapshot.count, "observed": core.interests.interests.count,
      "pinned": core.interests.interests.values.filter(\.pinned).count,
      "chains": snapshot.chains.values.map(\.name).sorted(), "rules": snapshot.rules.count,
      "macEntries": view.macTable.count, "arpEntries": view.arpTable.count,
      "activePorts": view.activePorts.count, "conntrackEntries": view.conntrack.count,
      "core.aliveHosts": core.aliveHosts.map(hostLabel).sorted(),
    ]
  }

  /// `/trace?port=NAME&packet=tcp 10.0.0.2:1234 > 10.0.1.5:80`, over the agent's own view.
  /// Objects the path needs that are not loaded yet are loaded first (waiting up to about
  /// two seconds), as a real packet's would be.
  func trace(_ query: [String: String]) async -> ControlResponse {
    guard let name = query["port"], let text = query["packet"] else {
      return ControlResponse(
        status: 400, contentType: "text/plain",
        body: "usage: /trace?port=NAME&packet=tcp+10.0.0.2:1234+>+10.0.1.5:80\n")
    }
    guard let port = snapshot.ports.values.first(where: { $0.name == name }) else {
      return ControlResponse(status: 404, contentType: "text/plain", body: "no port '\(name)'\n")
    }
    let request: TraceRequest
    let result: SimulationResult
    do {
      request = try TraceRequest(parsing: text)
      var attempt = try TraceRunner.run(
        request, ingress: port.id, view: currentView(), localHost: hostID)
      for _ in 0..<40 {
        guard case .notYet(let refs) = attempt.verdict else { break }
        for ref in refs { want(ref) }
        try? await Task.sleep(for: .milliseconds(50))
        attempt = try TraceRunner.run(
          request, ingress: port.id, view: currentView(), localHost: hostID)
      }
      result = attempt
    } catch {
      return ControlResponse(status: 400, contentType: "text/plain", body: "packet: \(error)\n")
    }
    let egress = result.outputPorts.map { snapshot.ports[$0]?.name ?? $0.description }
    // Names, not ids, as `midgectl trace` shows them (of the objects loaded here).
    return json([
      "verdict": snapshot.naming("\(result.verdict)"), "egressPorts": egress,
      "steps": result.trace.map { snapshot.naming($0.description) },
    ])
  }

  /// A host's name when its object is loaded here, else its id: the agent loads peer
  /// host objects only when a path needs them, and a peer it tunnels to is still a peer.
  func hostLabel(_ host: ID) -> String {
    snapshot.hosts[host]?.name ?? host.description
  }

  func portNames() -> [UInt32: String] {
    var names: [UInt32: String] = [:]
    for (number, port) in portIDs { names[number] = snapshot.ports[port]?.name ?? "\(port)" }
    return names
  }

  func describe(_ match: FlowMatch) -> String {
    var parts = ["eth \(match.ethernetSource)>\(match.ethernetDestination)"]
    if let source = match.networkSource, let destination = match.networkDestination {
      parts.append("ip \(source)>\(destination)")
    }
    if let proto = match.networkProtocol { parts.append("proto \(proto.rawValue)") }
    if let source = match.transportSource, let destination = match.transportDestination {
      parts.append("l4 \(source)>\(destination)")
    }
    if let id = match.icmpEchoID { parts.append("icmp id \(id)") }
    return parts.joined(separator: " ")
  }

  func json(_ object: [String: Any & Sendable]) -> ControlResponse {
    let data =
      (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]))
      ?? Data("{}".utf8)
    return ControlResponse(body: String(decoding: data, as: UTF8.self) + "\n")
  }
}

extension Agent {
  /// Every flow in this agent's datapath (for benchmarks and drills).
  public func dumpFlows() async -> [FlowSnapshot] {
    await datapath?.dump() ?? []
  }
}
