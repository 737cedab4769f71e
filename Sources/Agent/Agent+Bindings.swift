import AgentCore
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
    let attachedNow = attached.mapValues {
      BindingPlan.Attached(interface: $0.interface, key: $0.tunnelKey)
    }
    var plan = BindingPlan(
      host: hostID, snapshot: snapshot, led: ledPorts, attached: attachedNow, interfaces: nil)
    if !plan.attach.isEmpty {
      // Only when something is to be attached: one if_nameindex for all of them.
      do {
        plan = BindingPlan(
          host: hostID, snapshot: snapshot, led: ledPorts, attached: attachedNow,
          interfaces: try DatapathSwitch.interfaceNames())
      } catch {
        // Without the list every interface is tried, which is slower but works.
        logger.info("cannot list interfaces", metadata: ["agent.error": "\(error)"])
      }
    }
    for port in plan.detach { detach(port, reason: "binding removed or changed") }
    for (port, reason) in plan.unattachable.sorted(by: { $0.key < $1.key }) {
      noteAttachFailure(port, snapshot.ports[port]?.name ?? port.description, reason)
    }
    for want in plan.attach {
      let port = want.port
      let name = snapshot.ports[port]?.name ?? port.description
      let elected = elections[port] != nil
      var gate = PortGate.always
      var announceNow = false
      if elected {
        (gate, announceNow) = gateway.attachElected(port, now: DatapathClock.now())
      }
      do {
        try datapath.attach(interface: want.interface, port: want.key, gate: gate)
      } catch {
        noteAttachFailure(port, name, "\(error)")
        continue
      }
      attachFailures[port] = nil
      restoreFlowState(port)
      attached[port] = Attachment(interface: want.interface, number: want.key, tunnelKey: want.key)
      datapath.setTunnelKey(want.key, port: want.key)
      metrics.attachedPorts.store(attached.count, ordering: .relaxed)
      logger.info(
        "port attached",
        metadata: ["agent.port": "\(name)", "agent.interface": "\(want.interface)"])
      // Our own port is active for our simulations at once; the NSDB follows.
      execute(core.attach(port, number: want.key, now: .now))
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
        if announceNow { announce(port, number: want.key) }
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
    if !alreadyDetached { datapath?.detach(port: attachment.number) }
    datapath?.setTunnelKey(attachment.tunnelKey, port: nil)
    metrics.attachedPorts.store(attached.count, ordering: .relaxed)
    let name = snapshot.ports[port]?.name ?? port.description
    logger.info("port detached", metadata: ["agent.port": "\(name)", "agent.reason": "\(reason)"])
    // Its activity here, the MACs learned on it and its flows go (AgentCore.detach).
    execute(core.detach(port))
    gateway.detached(port)
    flowStateLog.close(port)
    if let portState {
      writer?.enqueue("deactivate \(name)") { try await portState.deactivate(port: port) }
    }
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

  /// Every `macRetention / 2`: a dump of the datapath tells the core which learned MACs
  /// flows still use (AgentCore.sweepLearnedMACs decides what to withdraw).
  func sweepLearnedMACs() async {
    guard !core.learnedMACs.isEmpty, !sweepingMACs, let datapath else { return }
    sweepingMACs = true
    defer { sweepingMACs = false }
    let flows = await datapath.dump().map(\.entry.match)
    let directives = core.sweepLearnedMACs(
      flows: flows, retention: .milliseconds(configuration.macRetention * 1000), now: .now)
    if !directives.isEmpty {
      logger.debug("withdrawing unused learned MACs")
      execute(directives)
    }
  }
}
