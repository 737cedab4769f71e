// MARK: - Design: the agent
//
// The agent is the shell around the pure simulator (docs/architecture.md): it keeps a
// local copy of the topology and of the runtime state, turns datapath misses into
// simulations, and carries out what the simulator returns — flows to install, packets to
// send, state to record. It follows the SWIM.Instance/actor-shell split of
// apple/swift-cluster-membership twice over: `Simulator` decides a packet's path, and
// `AgentCore` (Sources/AgentCore) decides what the agent does about it — flows, parked
// packets, learned state, invalidations, flow-state copies — as directives this actor
// executes (`execute`, Agent+Misses.swift). The actor keeps the IO: NSDB observers and
// watches, bindings and the datapath, elections and the lease, the control API.
//
// One owner, one stream. Every input — NSDB observer updates, state-table replicas, port
// activity and host liveness watches, datapath misses and link events, ZooKeeper session
// events, a ticker — is an `AgentEvent` on one `AsyncStream`, consumed by one loop inside
// the `Agent` actor. The loop handles events in arrival order, synchronously except for
// control-API reads, so an invalidation applied before a simulation always wins over it:
// the datapath's mailbox is FIFO per packet loop, so an install posted after a
// `removeAll(taggedWith:)` was simulated on the newer view, and one posted before it is
// removed by it.
//
// Topology. The agent keeps one `TopologySnapshot` of the objects it observes, each
// through its own NSDB observer (Agent+Loading.swift). It starts from its host object and
// keeps for good ("pinned") what the host names: its tunnel zones, the ports bound to it
// and the ports that list it as a candidate (`Host.candidatePortIds`). Everything else is
// loaded on demand: a simulation that needs an object not in the view returns `.notYet`
// with the object's type and id, the agent starts observing it and simulates the parked
// packet again when it arrives. An object neither a flow nor a simulation used for
// `topologyIdleTimeout` is dropped (a sweep compares the tags of the installed flows with
// the tags each object's change would invalidate). So a host's cold start reads only its
// own few objects whatever the size of the topology, and its memory follows the traffic
// it carries. Each change invalidates the flows tagged with the changed object
// (`Invalidation`) and marks the simulation view stale; the view (which compiles lookup
// structures) is rebuilt lazily, at the next simulation, so a burst of changes costs one
// rebuild.
//
// State. MAC tables, bridge IP→MAC tables and router ARP tables are replicated from the
// NSDB into the view; what this host learns goes into the view at once and into the
// NSDB through one serial writer (`NSDBWriter`), so a ZooKeeper outage never blocks the
// packet path (fail static). Port activity (`active` ephemerals) and host liveness
// (`alive`) are watched per port and per host: a port is reachable through a tunnel only
// while it is active on a host that is alive and has a tunnel endpoint.
//
// Bindings. Ports bound to this host (host id + interface name) are attached when their
// interface exists and is up, checked every `interfacePollInterval`; the port's tunnel
// key is its datapath port number, so tunnelled packets map to the port without a table.
// An attached port is marked active (ephemeral, re-created after a session expiry by
// `PortState`); a detached one inactive.
//
// Misses (AgentCore+Misses.swift). A miss is simulated at once. `.forward` and `.drop` install a flow with the
// result's tags; `.consumed` (ARP, echo to a router) releases the parked packets
// without a flow; `.awaitingARP` and `.notYet` keep the packet pending and simulate it
// again when the ARP entry arrives, or as soon as a burst of loaded objects has been
// applied (`.retryPending`), or drop it after `pendingTimeout`. Generated packets (ARP replies and requests, ICMP errors) leave
// through a local port, a tunnel, or — for an interior port — the peer device, which is
// simulated in turn (bounded depth).

import Addresses
import AgentCore
import Datapath
import Foundation
import Liveness
import Logging
import NSDB
import Packets
import Simulation
import Synchronization
import Topology
import ZooKeeper

/// The per-hypervisor agent; see the design notes at the top of this file.
public actor Agent {
  public nonisolated let configuration: AgentConfiguration
  public nonisolated let hostID: ID
  public nonisolated let metrics = AgentMetrics()
  nonisolated let logger: Logger
  nonisolated let events: AsyncStream<AgentEvent>.Continuation
  nonisolated let eventStream: AsyncStream<AgentEvent>
  nonisolated let startInstant = ContinuousClock.now
  nonisolated let flowStateLog: FlowStateLog

  // Set by `start()`.
  var client: ZooKeeperClient?
  var store: NSDBStore?
  var portState: PortState?
  var hostState: HostState?
  var writer: NSDBWriter?
  var datapath: DatapathSwitch?
  var controlServers: [ControlServer] = []
  var tasks: [Task<Void, Never>] = []

  /// The agent's copy of the world and every decision on it (AgentCore.swift); the
  /// actor feeds it events and executes what it returns.
  var core: AgentCore
  var snapshot: TopologySnapshot { core.snapshot }
  var view: SimulationView { core.view }
  var portIDs: [UInt32: ID] { core.portIDs }
  var activations: [ID: PortActivation] { core.activations }
  var endpoints: [ID: TunnelEndpoint] { core.endpoints }
  var pending: [AgentCore.PendingPacket] { core.pending }

  /// The observation task of each object the core wants observed.
  var observations: [ObjectRef: Task<Void, Never>] = [:]
  /// Observed objects whose stored bytes cannot be decoded, and why.
  var corruptObjects: [ObjectRef: String] = [:]
  var topologyReady = false
  var lastTopologySweep = ContinuousClock.now
  var sweepingTopology = false
  var pendingRetryPosted = false

  /// The tables this agent writes to (kept so they re-assert after a session expiry).
  var writableMACTables: [ID: MACTable] = [:]
  var writableARPTables: [ID: ARPTable] = [:]
  var lastMACSweep = ContinuousClock.now
  var sweepingMACs = false
  var lastFlowStateSweep = ContinuousClock.now
  /// DatapathClock time of the last flow-state sweep's dump: flows used since are in use.
  var lastFlowStateDump = DatapathClock.now()
  var sweepingFlowState = false

  /// Watches per object (port activity, host liveness, state tables).
  var watches: [WatchKey: Task<Void, Never>] = [:]
  /// Elections of the ports this host is a candidate for.
  var elections: [ID: Election] = [:]
  // Liveness over the tunnels and the gateway lease (Agent+Liveness.swift).
  var liveness: LivenessMonitor?
  let livenessPace = LivenessPace()
  let livenessOrigin = ContinuousClock.now
  var livenessPeerSet = Set<ID>()
  var livenessEverUp = Set<ID>()
  var hostLease: HostLease?
  /// Source-NAT port-block leases (AgentCore+NATLeases decides, this writes them).
  var natLeases: NATLeases?
  /// Seals and opens flow-state messages with the tunnel zone's keys.
  var flowStateSeal = FlowStateSeal()
  /// The tunnel peers last given to the datapath (AgentCore.tunnelPeers).
  var tunnelPeers: Set<TunnelEndpoint>?
  /// The lease's rules and state: gate deadline, hold-down, when to confirm (AgentCore).
  var gateway: GatewayLease
  var takeovers: [ID: Task<Void, Never>] = [:]
  /// Watches asked for before the topology was loaded; armed once it is.
  var deferredWatches = Set<WatchKey>()

  /// Local ports: port id → attachment.
  var attached: [ID: Attachment] = [:]
  /// Why a bound port is not attached, as last logged.
  var attachFailures: [ID: String] = [:]
  var bindingsChanged = true
  var lastBindingCheck = ContinuousClock.now - .seconds(3600)

  /// How long each start-up phase took (connect, register, datapath, load).
  public internal(set) var startupPhases: [(name: String, duration: Duration)] = []

  struct Attachment: Hashable {
    var interface: String
    var number: UInt32
    var tunnelKey: UInt32
  }

  enum WatchKey: Hashable {
    case active(ID)
    case alive(ID)
    case macTable(ID)
    case ipMACTable(ID)
    case arpTable(ID)
  }

  /// An agent for `configuration`; `start()` brings it up.
  public init(configuration: AgentConfiguration, logger: Logger) throws(AgentError) {
    try configuration.validate()
    self.configuration = configuration
    self.logger = logger
    self.hostID = try Self.loadHostID(configuration, logger: logger)
    self.core = AgentCore(
      hostID: hostID,
      settings: {
        var settings = AgentCore.Settings(
          flowIdleTimeout: .milliseconds(configuration.flowIdleTimeout * 1000),
          pendingTimeout: .milliseconds(configuration.pendingTimeout * 1000))
        settings.flowStateTimeouts = configuration.flowStateTimeouts
        return settings
      }(),
      origin: startInstant)
    self.gateway = GatewayLease(
      settings: GatewayLease.Settings(
        enabled: configuration.livenessEnabled,
        lease: .milliseconds(Int64(configuration.gatewayLease * 1000)),
        leaseGuard: .milliseconds(Int64(configuration.gatewayLeaseGuard * 1000)),
        holdDown: .milliseconds(Int64(configuration.gatewayHoldDown * 1000))))
    self.flowStateLog = FlowStateLog(directory: configuration.flowStateDirectory, logger: logger)
    (eventStream, events) = AsyncStream<AgentEvent>.makeStream()
  }

  /// The host id: the id file's if it has one, else derived from the host name (as
  /// `midgectl apply` derives it) and written to the file.
  static func loadHostID(_ configuration: AgentConfiguration, logger: Logger) throws(AgentError)
    -> ID
  {
    let path = configuration.hostIdFile
    if let text = try? String(contentsOfFile: path, encoding: .utf8) {
      let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
      guard let id = ID(trimmed) else {
        throw AgentError(
          .configuration,
          "host id file \(path) holds '\(trimmed)', not a UUID; fix or delete it")
      }
      return id
    }
    let id = ID(name: "\(ModelType.host.rawValue)/\(configuration.hostName)")
    do {
      let directory = (path as NSString).deletingLastPathComponent
      if !directory.isEmpty {
        try FileManager.default.createDirectory(
          atPath: directory, withIntermediateDirectories: true)
      }
      try (id.description + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    } catch {
      logger.info(
        "cannot write the host id file; the id is derived from the host name each start",
        metadata: ["agent.host_id_file": "\(path)", "agent.error": "\(error)"])
    }
    return id
  }

  /// Seconds since this agent started, the simulator's notion of now.
  nonisolated var now: Duration { ContinuousClock.now - startInstant }

  /// Whether every model type has been loaded and bindings checked once.
  public var isReady: Bool {
    topologyReady && !bindingsChanged
  }
}

/// Whether the liveness ticker must run at its fast pace (Agent+Liveness): shared by the
/// agent and its ticker task.
final class LivenessPace: Sendable {
  let busy = Atomic<Bool>(false)
}
