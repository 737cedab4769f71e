import Datapath
import Prometheus
import Synchronization

/// The agent's counters, exposed in the Prometheus text format at `/metrics`.
///
/// The agent counts into plain relaxed atomics: that is all an increment on the packet
/// path should cost, and the agent itself, `/health` and `midge-bench` read them
/// back. The exposition is swift-prometheus's: at each scrape the current values are
/// carried into its registry (counters by their increase since the last scrape, gauges
/// as they are), together with the datapath's per-port counters, and the registry
/// renders the text (names, help, types, label escaping). Names follow Prometheus
/// conventions (`_total` for counters, base units).
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
  /// Flow-state messages whose MAC did not verify.
  public let tunnelBadMAC = Atomic<UInt64>(0)
  public let flowStateExpired = Atomic<UInt64>(0)
  public let flowStateRefreshed = Atomic<UInt64>(0)
  public let conntrackEntries = Atomic<Int>(0)
  public let natBindings = Atomic<Int>(0)
  public let natBlocks = Atomic<Int>(0)
  public let livenessSent = Atomic<UInt64>(0)
  public let livenessReceived = Atomic<UInt64>(0)
  public let livenessRejected = Atomic<UInt64>(0)
  public let livenessPeerDowns = Atomic<UInt64>(0)
  public let gatewayTakeovers = Atomic<UInt64>(0)
  public let gatewayFenced = Atomic<UInt64>(0)
  /// 1 connected, 0 suspended (connection lost, session may live), -1 expired or closed.
  public let sessionState = Atomic<Int>(0)
  public let sessionExpiries = Atomic<UInt64>(0)
  public let attachedPorts = Atomic<Int>(0)
  public let topologyObjects = Atomic<Int>(0)
  public let topologyLoads = Atomic<UInt64>(0)
  public let topologyEvictions = Atomic<UInt64>(0)
  public let corruptObjects = Atomic<Int>(0)
  /// Simulations that ended in a drop, by the kind of reason (`DropReason.kind`), and
  /// results the datapath cannot carry out (`cannot_execute`: an output port not
  /// attached here, no tunnel endpoint, an action the datapath lacks).
  let drops = Mutex<[String: UInt64]>([:])
  private let exporter = Mutex(Exporter())

  public init() {}

  /// Counts one simulated drop of the kind `reason`.
  public func countDrop(_ reason: String) {
    drops.withLock { $0[reason, default: 0] += 1 }
  }

  /// The drops counted so far, by kind.
  public var dropCounts: [String: UInt64] { drops.withLock { $0 } }

  /// The exposition text; `datapath` gives the per-port counters, `names` their port names.
  public func render(datapath: [UInt32: PortCounters.Snapshot], names: [UInt32: String]) -> String {
    let drops = dropCounts
    return exporter.withLock { exporter in
      exporter.beginScrape()
      exporter.counter(
        "midge_agent_simulations_total", "First-packet simulations run.", simulations)
      exporter.counter(
        "midge_agent_flows_installed_total", "Flows installed in the datapath.", flowsInstalled)
      exporter.counter("midge_agent_invalidations_total", "Flow tags invalidated.", invalidations)
      exporter.counter(
        "midge_agent_generated_packets_total",
        "Packets the agent sent itself (ARP, ICMP errors, TCP resets).", generatedPackets)
      exporter.counter(
        "midge_agent_pending_dropped_total",
        "Packets dropped after waiting too long for a device or an ARP answer.", pendingDropped)
      exporter.counter(
        "midge_agent_nsdb_write_failures_total", "State writes to the NSDB that failed.",
        nsdbWriteFailures)
      exporter.counter(
        "midge_agent_flow_state_sent_total",
        "Flow-state messages (conntrack, NAT) sent to other agents.", flowStateSent)
      exporter.counter(
        "midge_agent_flow_state_received_total",
        "Conntrack entries and NAT bindings received from other agents.", flowStateReceived)
      exporter.counter(
        "midge_agent_flow_state_rejected_total", "Flow-state messages that could not be decoded.",
        flowStateRejected)
      exporter.counter(
        "midge_agent_flow_state_expired_total",
        "Conntrack entries and NAT bindings that expired unused (NAT ports freed).",
        flowStateExpired)
      exporter.counter(
        "midge_agent_flow_state_refreshed_total",
        "Live conntrack entries and NAT bindings sent to other agents again.", flowStateRefreshed)
      exporter.gauge(
        "midge_agent_conntrack_entries", "Connection-tracking entries held.",
        Double(conntrackEntries.load(ordering: .relaxed)))
      exporter.gauge(
        "midge_agent_nat_bindings", "NAT bindings held.",
        Double(natBindings.load(ordering: .relaxed)))
      exporter.gauge(
        "midge_agent_nat_leased_blocks", "Source-NAT port blocks (64 ports) leased by this host.",
        Double(natBlocks.load(ordering: .relaxed)))
      exporter.counter(
        "midge_agent_liveness_hellos_sent_total", "Liveness hellos sent to other hosts.",
        livenessSent)
      exporter.counter(
        "midge_agent_liveness_hellos_received_total", "Liveness hellos received.",
        livenessReceived)
      exporter.counter(
        "midge_agent_liveness_hellos_rejected_total", "Liveness hellos that could not be decoded.",
        livenessRejected)
      exporter.counter(
        "midge_agent_liveness_peer_downs_total", "Hosts that went down by liveness.",
        livenessPeerDowns)
      exporter.counter(
        "midge_agent_gateway_takeovers_total",
        "Gateway holders this host fenced and evicted after liveness said they were down.",
        gatewayTakeovers)
      exporter.counter(
        "midge_agent_gateway_fenced_total",
        "Times another host fenced this host's gateway lease (it stepped down).", gatewayFenced)
      exporter.gauge(
        "midge_agent_zookeeper_session_state", "1 connected, 0 suspended, -1 expired or closed.",
        Double(sessionState.load(ordering: .relaxed)))
      exporter.counter(
        "midge_agent_zookeeper_session_expiries_total", "Sessions lost to expiry.", sessionExpiries)
      exporter.gauge(
        "midge_agent_attached_ports", "Local interfaces attached.",
        Double(attachedPorts.load(ordering: .relaxed)))
      exporter.gauge(
        "midge_agent_topology_objects", "Topology objects in the local copy.",
        Double(topologyObjects.load(ordering: .relaxed)))
      exporter.counter(
        "midge_agent_topology_loads_total",
        "Topology objects the agent started to observe (on demand, or as objects it serves).",
        topologyLoads)
      exporter.counter(
        "midge_agent_topology_evictions_total",
        "Topology objects dropped from the local copy after going unused.", topologyEvictions)
      exporter.gauge(
        "midge_agent_topology_corrupt_objects",
        "Observed topology objects whose stored bytes cannot be decoded (see /health).",
        Double(corruptObjects.load(ordering: .relaxed)))
      for (reason, count) in drops {
        exporter.counter(
          "midge_agent_simulated_drops_total",
          "Simulations that dropped their packet (each installs a drop flow), by reason.",
          labels: [("reason", reason)], count)
      }

      let rejectedHelp =
        "Tunnel datagrams refused: from no alive peer of a shared tunnel zone (unknown_source), or flow-state messages whose MAC did not verify (bad_mac)."
      exporter.counter(
        "midge_agent_tunnel_rejected_total", rejectedHelp, labels: [("reason", "unknown_source")],
        datapath[DatapathSwitch.tunnelPort]?.unknownSource ?? 0)
      exporter.counter(
        "midge_agent_tunnel_rejected_total", rejectedHelp, labels: [("reason", "bad_mac")],
        tunnelBadMAC.load(ordering: .relaxed))
      let ports = datapath.keys.sorted()
      exporter.gauge(
        "midge_datapath_flows", "Flows installed in the datapath (all ports).",
        Double(datapath.values.reduce(0) { $0 + $1.flows }))
      exporter.counter(
        "midge_datapath_flow_hits_total", "Packets that matched a flow.",
        datapath.values.reduce(0) { $0 &+ $1.hits })
      exporter.counter(
        "midge_datapath_flow_misses_total", "Packets that matched no flow.",
        datapath.values.reduce(0) { $0 &+ $1.misses })
      for port in ports {
        let label = port == DatapathSwitch.tunnelPort ? "tunnel" : names[port] ?? "\(port)"
        let counters = datapath[port]!
        for (name, help, value) in [
          (
            "midge_datapath_port_received_packets_total", "Packets received per port.",
            counters.received
          ),
          (
            "midge_datapath_port_transmitted_packets_total", "Packets sent per port.",
            counters.transmitted
          ),
          (
            "midge_datapath_port_dropped_packets_total", "Packets dropped per port.",
            counters.dropped
          ),
        ] {
          exporter.counter(name, help, labels: [("port", label)], value)
        }
      }
      return exporter.finishScrape()
    }
  }
}

/// Carries values into a swift-prometheus registry at scrape time. Counters the agent
/// keeps as totals become registry counters increased by the difference; a total that
/// went down (a port re-attached, its counters new) restarts its counter. Labeled series
/// not seen in a scrape (a port that went) are unregistered.
struct Exporter {
  let registry = PrometheusCollectorRegistry()
  private var counters: [String: (counter: Counter, last: UInt64)] = [:]
  private var gauges: [String: Gauge] = [:]
  private var seen = Set<String>()

  mutating func beginScrape() { seen = [] }

  mutating func counter(
    _ name: String, _ help: String, labels: [(String, String)] = [],
    _ value: borrowing Atomic<UInt64>
  ) {
    counter(name, help, labels: labels, value.load(ordering: .relaxed))
  }

  mutating func counter(
    _ name: String, _ help: String, labels: [(String, String)] = [], _ value: UInt64
  ) {
    let key = Self.key(name, labels)
    seen.insert(key)
    let entry =
      counters[key]
      ?? (
        labels.isEmpty
          ? registry.makeCounter(descriptor: Self.descriptor(name, help))
          : registry.makeCounter(descriptor: Self.descriptor(name, help), labels: labels),
        0
      )
    var last = entry.last
    if value < last {
      entry.counter.reset()
      last = 0
    }
    if value > last { entry.counter.increment(by: Int64(clamping: value - last)) }
    counters[key] = (entry.counter, value)
  }

  mutating func gauge(_ name: String, _ help: String, _ value: Double) {
    seen.insert(name)
    let gauge = gauges[name] ?? registry.makeGauge(descriptor: Self.descriptor(name, help))
    gauge.set(to: value)
    gauges[name] = gauge
  }

  /// Unregisters the series this scrape did not mention, and renders the rest.
  mutating func finishScrape() -> String {
    for (key, entry) in counters where !seen.contains(key) {
      registry.unregisterCounter(entry.counter)
      counters[key] = nil
    }
    return registry.emitToString()
  }

  private static func descriptor(_ name: String, _ help: String) -> MetricNameDescriptor {
    MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
  }

  private static func key(_ name: String, _ labels: [(String, String)]) -> String {
    labels.isEmpty
      ? name : name + "\u{0}" + labels.map { "\($0.0)\u{0}\($0.1)" }.joined(separator: "\u{0}")
  }
}
