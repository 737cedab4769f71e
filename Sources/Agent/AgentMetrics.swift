import Datapath
import Foundation
import Synchronization

/// The agent's counters, rendered in the Prometheus text format at `/metrics`.
///
/// Plain atomics rather than swift-metrics: the agent is the only producer and the
/// control API the only consumer, so a registry and a backend would add a dependency and
/// an indirection per increment for nothing. Names follow Prometheus conventions
/// (`_total` for counters, base units).
public final class AgentMetrics: Sendable {
  public let simulations = Atomic<UInt64>(0)
  public let flowsInstalled = Atomic<UInt64>(0)
  public let invalidations = Atomic<UInt64>(0)
  public let generatedPackets = Atomic<UInt64>(0)
  public let pendingDropped = Atomic<UInt64>(0)
  public let nsdbWriteFailures = Atomic<UInt64>(0)
  public let flowStateSent = Atomic<UInt64>(0)
  public let flowStateReceived = Atomic<UInt64>(0)
  public let flowStateRejected = Atomic<UInt64>(0)
  /// 1 connected, 0 suspended (connection lost, session may live), -1 expired or closed.
  public let sessionState = Atomic<Int>(0)
  public let sessionExpiries = Atomic<UInt64>(0)
  public let attachedPorts = Atomic<Int>(0)
  public let topologyObjects = Atomic<Int>(0)
  public let topologyLoads = Atomic<UInt64>(0)
  public let topologyEvictions = Atomic<UInt64>(0)
  public let corruptObjects = Atomic<Int>(0)

  public init() {}

  /// The exposition text; `datapath` gives the per-port counters, `names` their port names.
  public func render(datapath: [UInt32: PortCounters.Snapshot], names: [UInt32: String]) -> String {
    var out = ""
    func metric(_ name: String, _ type: String, _ help: String, _ value: String) {
      out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name) \(value)\n"
    }
    metric(
      "midge_agent_simulations_total", "counter", "First-packet simulations run.",
      "\(simulations.load(ordering: .relaxed))")
    metric(
      "midge_agent_flows_installed_total", "counter", "Flows installed in the datapath.",
      "\(flowsInstalled.load(ordering: .relaxed))")
    metric(
      "midge_agent_invalidations_total", "counter", "Flow tags invalidated.",
      "\(invalidations.load(ordering: .relaxed))")
    metric(
      "midge_agent_generated_packets_total", "counter",
      "Packets the agent sent itself (ARP, ICMP errors, TCP resets).",
      "\(generatedPackets.load(ordering: .relaxed))")
    metric(
      "midge_agent_pending_dropped_total", "counter",
      "Packets dropped after waiting too long for a device or an ARP answer.",
      "\(pendingDropped.load(ordering: .relaxed))")
    metric(
      "midge_agent_nsdb_write_failures_total", "counter", "State writes to the NSDB that failed.",
      "\(nsdbWriteFailures.load(ordering: .relaxed))")
    metric(
      "midge_agent_flow_state_sent_total", "counter",
      "Flow-state messages (conntrack, NAT) sent to other agents.",
      "\(flowStateSent.load(ordering: .relaxed))")
    metric(
      "midge_agent_flow_state_received_total", "counter",
      "Conntrack entries and NAT bindings received from other agents.",
      "\(flowStateReceived.load(ordering: .relaxed))")
    metric(
      "midge_agent_flow_state_rejected_total", "counter",
      "Flow-state messages that could not be decoded.",
      "\(flowStateRejected.load(ordering: .relaxed))")
    metric(
      "midge_agent_zookeeper_session_state", "gauge",
      "1 connected, 0 suspended, -1 expired or closed.", "\(sessionState.load(ordering: .relaxed))")
    metric(
      "midge_agent_zookeeper_session_expiries_total", "counter", "Sessions lost to expiry.",
      "\(sessionExpiries.load(ordering: .relaxed))")
    metric(
      "midge_agent_attached_ports", "gauge", "Local interfaces attached.",
      "\(attachedPorts.load(ordering: .relaxed))")
    metric(
      "midge_agent_topology_objects", "gauge", "Topology objects in the local copy.",
      "\(topologyObjects.load(ordering: .relaxed))")
    metric(
      "midge_agent_topology_loads_total", "counter",
      "Topology objects the agent started to observe (on demand, or as objects it serves).",
      "\(topologyLoads.load(ordering: .relaxed))")
    metric(
      "midge_agent_topology_evictions_total", "counter",
      "Topology objects dropped from the local copy after going unused.",
      "\(topologyEvictions.load(ordering: .relaxed))")
    metric(
      "midge_agent_topology_corrupt_objects", "gauge",
      "Observed topology objects whose stored bytes cannot be decoded (see /health).",
      "\(corruptObjects.load(ordering: .relaxed))")
    let ports = datapath.keys.sorted()
    let totals = ports.reduce(into: (hits: UInt64(0), misses: UInt64(0))) { sums, port in
      sums.hits += datapath[port]!.hits
      sums.misses += datapath[port]!.misses
    }
    metric(
      "midge_datapath_flows", "gauge", "Flows installed in the datapath (all ports).",
      "\(datapath.values.reduce(0) { $0 + $1.flows })")
    metric(
      "midge_datapath_flow_hits_total", "counter", "Packets that matched a flow.",
      "\(totals.hits)")
    metric(
      "midge_datapath_flow_misses_total", "counter", "Packets that matched no flow.",
      "\(totals.misses)")
    for (name, help, field) in [
      (
        "midge_datapath_port_received_packets_total", "Packets received per port.",
        \PortCounters.Snapshot.received
      ),
      ("midge_datapath_port_transmitted_packets_total", "Packets sent per port.", \.transmitted),
      ("midge_datapath_port_dropped_packets_total", "Packets dropped per port.", \.dropped),
    ] {
      out += "# HELP \(name) \(help)\n# TYPE \(name) counter\n"
      for port in ports {
        let label = port == Datapath.tunnelPort ? "tunnel" : names[port] ?? "\(port)"
        out += "\(name){port=\"\(escape(label))\"} \(datapath[port]![keyPath: field])\n"
      }
    }
    return out
  }

  private func escape(_ label: String) -> String {
    label.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
  }
}
