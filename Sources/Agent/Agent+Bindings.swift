import Datapath
import Liveness
import Logging
import NSDB
import Simulation
import Topology

extension Agent {
  /// Makes the attached interfaces match the ports bound to this host: detaches ports
  /// whose binding went or changed, attaches bound ports whose interface exists and is
  /// up. Runs after binding changes and every `interfacePollInterval`.
  func reconcileBindings(force: Bool) {
    lastBindingCheck = .now
    bindingsChanged = false
    guard let datapath else { return }
    var desired: [ID: (interface: String, key: UInt32)] = [:]
    for port in snapshot.ports.values where port.hostId == hostID {
      guard let interface = port.interfaceName else { continue }
      desired[port.id] = (interface, port.tunnelKey)
    }
    for (port, interface) in ledPorts {
      desired[port] = (interface, snapshot.ports[port]?.tunnelKey ?? 0)
    }
    for (port, attachment) in attached {
      guard let want = desired[port], want.interface == attachment.interface,
        want.key == attachment.tunnelKey
      else {
        detach(port, reason: "binding removed or changed")
        continue
      }
    }
    var present: Set<String>?
    if desired.count > attached.count {
      do {
        present = try DatapathSwitch.interfaceNames()
      } catch {
        // Without the list every interface is tried, which is slower but works.
        logger.warning("cannot list interfaces", metadata: ["agent.error": "\(error)"])
      }
    }
    for (port, want) in desired.sorted(by: { $0.key < $1.key }) where attached[port] == nil {
      let name = snapshot.ports[port]?.name ?? port.description
      if let present, !present.contains(want.interface) {
        noteAttachFailure(port, name, "no interface named \(want.interface)")
        continue
      }
      guard want.key != 0, want.key != DatapathSwitch.tunnelPort,
        want.key != DatapathSwitch.messageTunnelKey,
        portIDs[want.key] == nil
      else {
        noteAttachFailure(port, name, "tunnel key \(want.key) is unusable or already in use")
        continue
      }
      let elected = elections[port] != nil
      let gate = elected ? gateForElectedPort() : PortGate.always
      do {
        try datapath.attach(interface: want.interface, port: want.key, gate: gate)
      } catch {
        noteAttachFailure(port, name, "\(error)")
        continue
      }
      attachFailures[port] = nil
      restoreFlowState(port)
      attached[port] = Attachment(interface: want.interface, number: want.key, tunnelKey: want.key)
      portIDs[want.key] = port
      datapath.setTunnelKey(want.key, port: want.key)
      metrics.attachedPorts.store(attached.count, ordering: .relaxed)
      logger.info(
        "port attached",
        metadata: ["agent.port": "\(name)", "agent.interface": "\(want.interface)"])
      // Our own port is active for our simulations at once; the NSDB follows.
      activations[port] = NSDB.PortActivation(host: hostID, tunnelKey: want.key)
      refreshActivePort(port)
      if let portState {
        let hostID = hostID
        // An elected port's previous holder may still hold the node for a moment after
        // its session ended: wait for it rather than fail.
        let stale: Duration =
          elections[port] != nil ? .milliseconds(configuration.sessionTimeout * 1500) : .zero
        writer?.enqueue("activate \(name)") {
          try await portState.activate(
            port: port, host: hostID, tunnelKey: want.key, waitForStale: stale)
        }
      }
      if elected {
        adoptLearnedNeighbours(port)
        if gate == PortGate.closed {
          announceWhenOpen.insert(port)
        } else {
          announce(port, number: want.key)
        }
      }
    }
  }

  /// Logs why a bound port is not attached, once per distinct reason.
  private func noteAttachFailure(_ port: ID, _ name: String, _ reason: String) {
    guard attachFailures[port] != reason else { return }
    attachFailures[port] = reason
    logger.info(
      "bound port not attached (retrying)",
      metadata: ["agent.port": "\(name)", "agent.reason": "\(reason)"])
  }

  /// Detaches a local port (if the datapath still has it), withdraws its activity and the
  /// MACs learned on it, and invalidates its flows.
  func detach(_ port: ID, reason: String, alreadyDetached: Bool = false) {
    guard let attachment = attached.removeValue(forKey: port) else { return }
    portIDs[attachment.number] = nil
    if !alreadyDetached { datapath?.detach(port: attachment.number) }
    datapath?.setTunnelKey(attachment.tunnelKey, port: nil)
    metrics.attachedPorts.store(attached.count, ordering: .relaxed)
    let name = snapshot.ports[port]?.name ?? port.description
    logger.info("port detached", metadata: ["agent.port": "\(name)", "agent.reason": "\(reason)"])
    if activations[port]?.host == hostID { activations[port] = nil }
    refreshActivePort(port)
    if let portState {
      writer?.enqueue("deactivate \(name)") { try await portState.deactivate(port: port) }
    }
    withdrawLearnedMACs(on: port)
    invalidate([.port(port)])
    bindingsChanged = true
  }

  func handleDatapathEvent(_ event: DatapathEvent) {
    switch event {
    case .detached(let number, let interface, let reason):
      guard let port = portIDs[number] else { return }
      logger.info(
        "interface lost",
        metadata: ["agent.interface": "\(interface)", "agent.reason": "\(reason)"])
      detach(port, reason: "interface \(interface): \(reason)", alreadyDetached: true)
    case .tunnelMessage(let bytes):
      if LivenessHello.hasMagic(bytes) {
        receiveHello(bytes)
      } else {
        receiveFlowState(bytes)
      }
    case .linkUp, .flowsRemoved:
      break
    }
  }

  /// Removes from the NSDB and the view the MACs this agent learned on `port`.
  func withdrawLearnedMACs(on port: ID) {
    withdraw(learnedMACs.keys.filter { $0.port == port })
  }

  /// Withdraws learned MAC entries: from the view (invalidating what used them) and,
  /// through the writer, from the bridge's MAC table.
  func withdraw(_ entries: [LearnedMAC]) {
    var tags: [FlowTag] = []
    for entry in entries {
      learnedMACs[entry] = nil
      let key = MACTableKey(bridge: entry.bridge, vlan: 0, mac: .init(rawValue: entry.mac.value))
      guard view.macTable[key] == entry.port else { continue }
      view.macTable[key] = nil
      tags.append(.bridgeMAC(bridge: entry.bridge, vlan: 0, mac: key.mac))
      let table = writableMACTable(entry.bridge)
      writer?.enqueue("forget mac \(entry.mac)") {
        _ = try await table.remove(entry.mac, entry.port)
      }
    }
    invalidate(tags)
  }

  /// Every `macRetention / 2`: MACs still used by a flow (its source, entering the port
  /// it was learned on) are kept fresh; the others are withdrawn once unused for
  /// `macRetention`. A dump of the datapath answers which are in use, so the entry lives
  /// exactly as long as traffic that the datapath alone carries needs it.
  func sweepLearnedMACs() async {
    guard !learnedMACs.isEmpty, !sweepingMACs, let datapath else { return }
    sweepingMACs = true
    defer { sweepingMACs = false }
    let flows = await datapath.dump()
    var inUse = Set<LearnedMAC>()
    let byPortAndMAC = Dictionary(
      learnedMACs.keys.map { (PortMAC(port: $0.port, mac: $0.mac.value), $0) },
      uniquingKeysWith: { first, _ in first })
    for flow in flows {
      guard let port = portIDs[flow.entry.match.ingressPort] else { continue }
      let key = PortMAC(port: port, mac: flow.entry.match.ethernetSource.rawValue)
      if let entry = byPortAndMAC[key] { inUse.insert(entry) }
    }
    let now = ContinuousClock.now
    let retention = Duration.milliseconds(configuration.macRetention * 1000)
    var expired: [LearnedMAC] = []
    for (entry, lastUsed) in learnedMACs {
      if inUse.contains(entry) {
        learnedMACs[entry] = now
      } else if now - lastUsed > retention {
        expired.append(entry)
      }
    }
    if !expired.isEmpty {
      logger.debug("withdrawing unused learned MACs", metadata: ["agent.macs": "\(expired.count)"])
      withdraw(expired)
    }
  }

  struct PortMAC: Hashable {
    var port: ID
    var mac: UInt64
  }
}
