import Addresses
import Datapath
import Logging
import NSDB
import Packets
import Simulation
import Topology

extension Agent {
  /// A packet no flow matched: simulate it and carry out the result.
  func handleMiss(_ miss: DatapathMiss) {
    guard let datapath else { return }
    guard let ingress = portIDs[miss.match.ingressPort] else {
      datapath.completeMiss(miss.match, actions: [])
      return
    }
    process(match: miss.match, frame: miss.frame, ingress: ingress)
  }

  /// Simulates one packet and does what the result says. Returns false when the packet
  /// is still waiting (for an ARP answer or a device).
  @discardableResult
  func process(match: FlowMatch, frame: [UInt8], ingress: ID, retry: Bool = false) -> Bool {
    guard let datapath else { return true }
    let view = currentView()
    let result = simulator.simulate(
      SimulationPacket(frame: frame, match: match), ingress: ingress, view: view, now: now)
    metrics.simulations.add(1, ordering: .relaxed)
    record(result.stateChanges)
    replicate(result, ingress: ingress, port: match.ingressPort)
    deliver(result.generatedPackets, depth: 0)
    // What a flow uses shows in its tags at the next topology sweep; what a simulation
    // without a flow used is noted here.
    if !result.installsFlow { usedTagsSinceSweep.formUnion(FlowTagHasher.hash(result.tags)) }
    switch result.verdict {
    case .forward, .drop:
      let tags = FlowTagHasher.hash(result.tags)
      var actions: [DatapathAction]
      var hardTimeout: Duration?
      if case .drop(let reason) = result.verdict {
        actions = [.drop(reason: "\(reason)")]
        metrics.countDrop(reason.kind)
      } else {
        switch translator.translate(result.actions) {
        case .success(let translated): actions = translated
        case .failure(let failure):
          metrics.countDrop("cannot_execute")
          // Re-simulated when the port changes, and at the latest after a second.
          actions = [.drop(reason: failure.description)]
          hardTimeout = .seconds(1)
        }
      }
      if result.installsFlow {
        let entry = FlowEntry(
          match: match, actions: actions, tags: tags,
          idleTimeout: .milliseconds(configuration.flowIdleTimeout * 1000),
          hardTimeout: hardTimeout)
        do {
          try datapath.install(entry)
          metrics.flowsInstalled.add(1, ordering: .relaxed)
        } catch {
          datapath.completeMiss(match, actions: actions)
        }
      } else {
        datapath.completeMiss(match, actions: actions)
      }
      return true
    case .consumed:
      datapath.completeMiss(match, actions: [])
      return true
    case .awaitingARP(let router, let ip):
      if !retry {
        pending.append(
          PendingPacket(
            match: match, frame: frame, ingress: ingress, since: .now,
            reason: .arp(DeviceIPKey(device: router, ip: ip))))
      }
      return false
    case .notYet(let ids):
      for ref in ids { want(ref) }
      if !retry {
        logger.debug(
          "packet waits for topology", metadata: ["agent.missing": "\(ids.map(\.description))"])
        pending.append(
          PendingPacket(match: match, frame: frame, ingress: ingress, since: .now, reason: .notYet))
      }
      return false
    }
  }

  /// What the datapath can reach right now (rebuilt only after attachments or tunnel
  /// endpoints changed, not per miss).
  var translator: ActionTranslator {
    if let cachedTranslator { return cachedTranslator }
    var localPorts: [ID: UInt32] = [:]
    for (port, attachment) in attached { localPorts[port] = attachment.number }
    let translator = ActionTranslator(localPorts: localPorts, endpoints: endpoints)
    cachedTranslator = translator
    return translator
  }

  /// Records a simulation's state changes: in the view at once, in the NSDB through the
  /// writer (MACs and ARP entries); conntrack and NAT entries go to the hosts that may
  /// simulate the connection next and to the local log instead (Agent+FlowState.swift).
  func record(_ changes: [StateChange]) {
    for change in changes {
      switch change {
      case .macLearned(let bridge, let vlan, let mac, let port):
        let key = MACTableKey(bridge: bridge, vlan: vlan, mac: mac)
        guard view.macTable[key] != port else { continue }
        view.macTable[key] = port
        invalidate([.bridgeMAC(bridge: bridge, vlan: vlan, mac: mac)])
        guard vlan == 0, attached[port] != nil else { continue }
        let table = writableMACTable(bridge)
        learnedMACs[LearnedMAC(bridge: bridge, port: port, mac: mac)] = .now
        writer?.enqueue("learn mac \(mac)") { try await table.add(mac, port) }
      case .arpLearned(let router, let ip, let mac):
        let key = DeviceIPKey(device: router, ip: ip)
        guard view.arpTable[key] != mac else { continue }
        view.arpTable[key] = mac
        invalidate([.arpEntry(router: router, ip: ip)])
        let table = writableARPTable(router)
        writer?.enqueue("learn arp \(ip)") { try await table.add(ip, mac) }
        resumePending(arp: key)
      case .conntrack, .natBinding:
        view.apply(change)
      }
    }
  }

  func writableMACTable(_ bridge: ID) -> MACTable {
    cached(&writableMACTables, bridge) {
      MACTable.macTable(client: client!, paths: store!.paths, bridge: bridge, logger: logger)
    }
  }

  func writableARPTable(_ router: ID) -> ARPTable {
    cached(&writableARPTables, router) {
      ARPTable.arpTable(client: client!, paths: store!.paths, router: router, logger: logger)
    }
  }

  /// The table this agent writes for `device`, made once and kept, so that what it learned
  /// is re-asserted after a session expiry.
  private func cached<Key, Value>(
    _ tables: inout [ID: TypedStateTable<Key, Value>], _ device: ID,
    _ make: () -> TypedStateTable<Key, Value>
  ) -> TypedStateTable<Key, Value> {
    if let table = tables[device] { return table }
    let table = make()
    table.reassertOnNewSession()
    tables[device] = table
    return table
  }

  /// Sends the packets a simulation generated. An interior egress port hands the packet
  /// to its peer's device, which is simulated in turn (at most 4 levels deep). A packet
  /// whose path needs objects not loaded yet (the peer bridge of a router's ARP request,
  /// on a host with no port on that bridge) has them loaded and is parked until they
  /// arrive (`retryPendingTopology`).
  func deliver(_ generated: [GeneratedPacket], depth: Int, retry: Bool = false) {
    guard let datapath else { return }
    for packet in generated {
      guard let port = snapshot.ports[packet.egressPort] else { continue }
      if !retry { metrics.generatedPackets.add(1, ordering: .relaxed) }
      if port.peerId != nil {
        guard depth < 4 else { continue }
        let result = simulator.simulateGenerated(packet, view: currentView(), now: now)
        metrics.simulations.add(1, ordering: .relaxed)
        record(result.stateChanges)
        switch result.verdict {
        case .forward:
          if case .success(let actions) = translator.translate(result.actions) {
            datapath.send(packet.frame, actions: actions)
          }
        case .notYet(let refs):
          for ref in refs { want(ref) }
          if pendingGenerated.count < Self.pendingGeneratedLimit {
            // Retried when the objects arrive (`applyLoaded` posts the retry).
            pendingGenerated.append(PendingGenerated(packet: packet, depth: depth, since: .now))
          }
        case .drop, .consumed, .awaitingARP:
          break
        }
        deliver(result.generatedPackets, depth: depth + 1)
      } else if let attachment = attached[port.id] {
        datapath.send(packet.frame, actions: [.output(port: attachment.number)])
      } else if let active = view.activePorts[port.id], let remote = endpoints[active.host] {
        datapath.send(
          packet.frame, actions: [.encapsulate(tunnelKey: active.tunnelKey, remote: remote)])
      }
    }
  }

  /// At most this many generated packets wait for topology at once (the rest are
  /// dropped: the packets that caused them are retried and generate them again).
  static let pendingGeneratedLimit = 256

  /// Sends again the generated packets that waited for topology; those that waited
  /// longer than `pendingTimeout` are dropped.
  func retryPendingGenerated() {
    guard !pendingGenerated.isEmpty else { return }
    let timeout = Duration.milliseconds(configuration.pendingTimeout * 1000)
    let waiting = pendingGenerated
    pendingGenerated = []
    let now = ContinuousClock.now
    for parked in waiting where now - parked.since <= timeout {
      deliver([parked.packet], depth: parked.depth, retry: true)
    }
  }

  /// Simulates again the packets that waited for `key`'s ARP entry.
  func resumePending(arp key: DeviceIPKey) {
    let waiting = pending.filter {
      if case .arp(let wanted) = $0.reason { return wanted == key }
      return false
    }
    guard !waiting.isEmpty else { return }
    pending.removeAll {
      if case .arp(let wanted) = $0.reason { return wanted == key }
      return false
    }
    for packet in waiting {
      if !process(match: packet.match, frame: packet.frame, ingress: packet.ingress, retry: true) {
        pending.append(packet)
      }
    }
  }

  /// Simulates again, at once, the packets waiting for topology.
  func retryPendingTopology() {
    retryPendingGenerated()
    guard !pending.isEmpty else { return }
    // Simulating may add to `pending` (an ARP answer resumes others): keep what it adds.
    let waiting = pending
    pending = []
    var keep: [PendingPacket] = []
    for packet in waiting {
      if case .notYet = packet.reason,
        process(match: packet.match, frame: packet.frame, ingress: packet.ingress, retry: true)
      {
        continue
      }
      keep.append(packet)
    }
    pending = keep + pending
  }

  /// Drops packets that waited too long; retries packets that wait for topology after it
  /// changed, and those waiting for ARP once (sending the request again).
  func expirePending(_ now: ContinuousClock.Instant) {
    let timeout = Duration.milliseconds(configuration.pendingTimeout * 1000)
    pendingGenerated.removeAll { now - $0.since > timeout }
    guard !pending.isEmpty, let datapath else { return }
    let retryTopology = topologyChangedSincePendingRetry
    topologyChangedSincePendingRetry = false
    let waiting = pending
    pending = []
    var keep: [PendingPacket] = []
    for var packet in waiting {
      if now - packet.since > timeout {
        datapath.completeMiss(packet.match, actions: [])
        metrics.pendingDropped.add(1, ordering: .relaxed)
        continue
      }
      let retry: Bool
      switch packet.reason {
      case .notYet: retry = retryTopology
      case .arp: retry = !packet.retried && now - packet.since > .seconds(1)
      }
      if retry {
        packet.retried = true
        if process(match: packet.match, frame: packet.frame, ingress: packet.ingress, retry: true) {
          continue
        }
      }
      keep.append(packet)
    }
    pending = keep + pending
  }
}
