import AgentCore
import Datapath
import Logging
import Simulation
import Topology

/// Flow-state replication: the conntrack entries and NAT bindings a simulation made are
/// sent, before the packet is forwarded, to the hosts that may simulate the same
/// connection next (`AgentCore.replicate` chooses them). One LZ4-compressed message per
/// simulation and recipient, over the tunnel (`FlowStateMessage`), sent from the loop of
/// the packet's ingress port ahead of the packet itself: the far agent has the state
/// before the packet — let alone its reply — can reach it.
extension Agent {
  /// Carries out a `.replicate` directive: one message, appended to the local ports' logs
  /// and sent to each recipient ahead of the packet (AgentCore decides who).
  func sendFlowState(_ copy: FlowStateCopy) {
    let message = FlowStateMessage.encode(
      copy.changes, handOver: copy.handOver, owner: copy.owner, closing: copy.closing)
    for port in copy.logPorts { flowStateLog.append(message, port: port) }
    guard let datapath, !copy.recipients.isEmpty else { return }
    let sealed = flowStateSeal.seal(message)
    for remote in copy.recipients.values {
      datapath.sendMessage(sealed, to: remote, before: copy.before)
      metrics.flowStateSent.add(1, ordering: .relaxed)
    }
  }

  /// What a port's flow-state log holds, into the view (when the port is attached again,
  /// typically after a restart).
  func restoreFlowState(_ port: ID) {
    let changes = flowStateLog.load(port)
    guard !changes.isEmpty else { return }
    execute(core.applyFlowState(changes, port: port, now: .now))
    logger.info(
      "flow state restored from the local log",
      metadata: [
        "agent.port": "\(snapshot.ports[port]?.name ?? port.description)",
        "agent.entries": "\(changes.count)",
      ])
  }

  /// The periodic flow-state pass: which entries flows used since the last one (from a
  /// dump of the datapath), then AgentCore.sweepFlowState decides what expires and what
  /// is sent to peers again.
  func sweepFlowState() async {
    guard !core.flowState.entries.isEmpty || core.holdsNATBlocks, !sweepingFlowState,
      let datapath
    else { return }
    sweepingFlowState = true
    defer { sweepingFlowState = false }
    let since = lastFlowStateDump
    lastFlowStateDump = DatapathClock.now()
    var used = Set<FlowTagHash>()
    for flow in await datapath.dump() where flow.stats.lastUsed >= since {
      used.formUnion(flow.entry.tags)
    }
    execute(core.sweepFlowState(usedTags: used, now: .now))
    compactFlowStateLogs()
  }

  /// Rewrites the logs that grew well past what they need with their live entries.
  func compactFlowStateLogs() {
    for port in flowStateLog.dueForCompaction() {
      let live = core.flowState.owned(by: port)
      var messages: [[UInt8]] = []
      var start = 0
      while start < live.count {
        let end = min(start + 512, live.count)
        messages.append(FlowStateMessage.encode(Array(live[start..<end])))
        start = end
      }
      flowStateLog.compact(port, messages: messages)
      logger.debug(
        "compacting a flow-state log",
        metadata: ["agent.port": "\(port)", "agent.entries": "\(live.count)"])
    }
  }

  /// A flow-state message from another agent: its entries join the local view.
  func receiveFlowState(_ bytes: [UInt8]) {
    let opened: [UInt8]
    do {
      opened = try flowStateSeal.open(bytes)
    } catch {
      metrics.tunnelBadMAC.add(1, ordering: .relaxed)
      logger.debug("refusing a flow-state message", metadata: ["agent.error": "\(error)"])
      return
    }
    do {
      let message = try FlowStateMessage.decodeMessage(opened)
      execute(
        core.applyFlowState(
          message.changes, owner: message.owner, closing: message.closing, now: .now))
      for port in message.handOvers { execute(core.handOverArrived(port, now: .now)) }
      metrics.flowStateReceived.add(UInt64(message.changes.count), ordering: .relaxed)
    } catch {
      metrics.flowStateRejected.add(1, ordering: .relaxed)
      logger.debug("dropping a flow-state message", metadata: ["agent.error": "\(error)"])
    }
  }
}
