import Datapath
import Logging
import Simulation
import Topology

/// Flow-state replication: the conntrack entries and NAT bindings a simulation made are
/// sent, before the packet is forwarded, to the hosts that may simulate the same
/// connection next — the host where the flow's egress port is active (its reply enters
/// there) and every other candidate of a port the flow crosses that several hosts can
/// serve (one of them takes over on a failover). One LZ4-compressed message per
/// simulation and recipient, over the tunnel (`FlowStateMessage`), sent from the loop of
/// the packet's ingress port ahead of the packet itself: the far agent has the state
/// before the packet — let alone its reply — can reach it.
extension Agent {
  func replicate(_ result: SimulationResult, ingress: ID, port number: UInt32) {
    let changes = result.stateChanges.filter {
      switch $0 {
      case .conntrack, .natBinding: return true
      case .macLearned, .arpLearned: return false
      }
    }
    guard !changes.isEmpty, let datapath else { return }
    let message = FlowStateMessage.encode(changes)
    // The local log of every port here the flow enters or leaves by.
    var logged = Set<ID>()
    for port in [ingress] + result.outputPorts where attached[port] != nil {
      if logged.insert(port).inserted { flowStateLog.append(message, port: port) }
    }
    var recipients = Set<ID>()
    for port in result.outputPorts {
      if let active = view.activePorts[port], active.host != hostID {
        recipients.insert(active.host)
      }
    }
    for port in [ingress] + result.outputPorts {
      for candidate in snapshot.ports[port]?.candidates ?? [] where candidate.hostId != hostID {
        recipients.insert(candidate.hostId)
      }
    }
    guard !recipients.isEmpty else { return }
    for host in recipients {
      guard let remote = endpoints[host] else { continue }
      datapath.sendMessage(message, to: remote, before: number)
      metrics.flowStateSent.add(1, ordering: .relaxed)
    }
  }

  /// What a port's flow-state log holds, into the view (when the port is attached again,
  /// typically after a restart).
  func restoreFlowState(_ port: ID) {
    let changes = flowStateLog.load(port)
    guard !changes.isEmpty else { return }
    view.apply(changes)
    logger.info(
      "flow state restored from the local log",
      metadata: [
        "agent.port": "\(snapshot.ports[port]?.name ?? port.description)",
        "agent.entries": "\(changes.count)",
      ])
  }

  /// A flow-state message from another agent: its entries join the local view.
  func receiveFlowState(_ bytes: [UInt8]) {
    do {
      let changes = try FlowStateMessage.decode(bytes)
      view.apply(changes)
      metrics.flowStateReceived.add(UInt64(changes.count), ordering: .relaxed)
    } catch {
      metrics.flowStateRejected.add(1, ordering: .relaxed)
      logger.debug("dropping a flow-state message", metadata: ["agent.error": "\(error)"])
    }
  }
}
