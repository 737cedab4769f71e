// MARK: - Design: the agent's core
//
// The agent is split the way apple/swift-cluster-membership splits SWIM: a value type that
// decides and an actor that does the IO. `AgentCore` is the value type. It holds the
// agent's copy of the world — the topology snapshot, the simulation view built from it,
// the replicated state tables, which ports are attached here and where the other hosts'
// tunnels end, which ports are active on which live host — and every decision the agent
// takes on it:
//
// * a datapath miss is simulated, and the result becomes a flow to install, a miss to
//   complete without a flow, or a packet parked until an ARP answer or a topology object
//   arrives;
// * a parked packet is simulated again when what it waited for arrives, retried once
//   after a second while it waits for ARP, and dropped after `pendingTimeout`;
// * packets the simulator generated (ARP requests and replies, ICMP errors) are sent out
//   of a local port or a tunnel, or simulated through an interior port's peer device;
// * a state change the simulation made (a MAC learned, an ARP entry, conntrack, NAT) goes
//   into the view at once, invalidates the flows that depended on the old value, is
//   written to the NSDB when it is this host's to write, and — for flow state — is sent
//   to the hosts that may simulate the connection next and logged for the local ports;
// * a replicated table or a port's activity changing invalidates the flows that used it.
//
// It does no IO and reads no clock: every input carries the time it happened, and every
// output is an `AgentDirective` the actor carries out in order (install, complete, send,
// invalidate, load, write, replicate, count). So the rules are unit-tested with plain
// values (Tests/AgentCoreTests), without root, a datapath or ZooKeeper, and the actor
// (`Agent`) is what is left: NSDB observers and watches, the datapath, the control API.
//
// Order matters and is kept: directives come out in the order the decisions were taken,
// and the actor executes them in that order on its single event loop. An invalidation a
// state change causes therefore reaches the datapath before the flow of the packet that
// caused it. Parked packets that an ARP entry releases are simulated from a work list
// after the packet that brought the entry, never by re-entering `process`.

import Addresses
import Datapath
import Packets
import Simulation
import Topology

/// The agent's decisions as a value: see the design notes at the top of this file.
public struct AgentCore: Sendable {
  /// The knobs the decisions depend on (from the agent's configuration).
  public struct Settings: Sendable, Hashable {
    /// How long an installed flow lives without packets.
    public var flowIdleTimeout: Duration
    /// How long a packet may wait for an ARP answer or a topology object.
    public var pendingTimeout: Duration
    /// At most this many generated packets wait for topology at once (the rest are
    /// dropped: the packets that caused them are retried and generate them again).
    public var pendingGeneratedLimit = 256
    /// How deep generated packets are simulated through interior ports.
    public var generatedDepthLimit = 4
    /// A packet waiting for ARP is simulated once more (sending the request again) after
    /// this long.
    public var arpRetryAfter: Duration = .seconds(1)
    /// How long a flow that could not be executed (a port not attached, a host without a
    /// tunnel endpoint) drops before the packet is simulated again.
    public var unexecutableFlowTimeout: Duration = .seconds(1)
    /// How long a port that moved here waits for its previous host's hand-over before
    /// its packets go without it.
    public var handOverWait: Duration = .milliseconds(500)
    /// How long conntrack entries and NAT bindings live without use (FlowStateTable).
    public var flowStateTimeouts = FlowStateTimeouts()

    public init(flowIdleTimeout: Duration, pendingTimeout: Duration) {
      self.flowIdleTimeout = flowIdleTimeout
      self.pendingTimeout = pendingTimeout
    }
  }

  /// A MAC address this host learned on one of its ports and wrote to the NSDB.
  public struct LearnedMAC: Hashable, Sendable {
    public var bridge: ID
    public var port: ID
    public var mac: MACAddress

    public init(bridge: ID, port: ID, mac: MACAddress) {
      self.bridge = bridge
      self.port = port
      self.mac = mac
    }
  }

  /// A packet waiting for an ARP answer or a topology object.
  public struct PendingPacket: Sendable {
    public enum Reason: Hashable, Sendable {
      case arp(DeviceIPKey)
      case notYet
      /// Source NAT found no free port in the blocks held: waits for a lease.
      case natLease
      /// The port moved here and waits for its connections' state (the hand-over).
      case handOver(ID)
    }
    public var match: FlowMatch
    public var frame: [UInt8]
    public var ingress: ID
    public var since: ContinuousClock.Instant
    public var reason: Reason
    public var retried = false
  }

  /// A generated packet whose path through a peer device waits for topology objects.
  public struct PendingGenerated: Sendable {
    public var packet: GeneratedPacket
    public var depth: Int
    public var since: ContinuousClock.Instant
  }

  public let hostID: ID
  public var settings: Settings
  /// The instant the simulator's clock counts from.
  public let origin: ContinuousClock.Instant
  var simulator: Simulator

  /// The agent's copy of the topology (only what it observes).
  public internal(set) var snapshot = TopologySnapshot()
  /// What simulations see; rebuilt lazily after topology changes (`currentView()`).
  public internal(set) var view = SimulationView(topology: TopologySnapshot())
  var viewIsStale = false

  /// Which objects are observed, pinned, loaded or idle (AgentCore+Interests.swift).
  public internal(set) var interests = TopologyInterests()

  /// Ports attached here: port id → datapath port number, and back.
  public internal(set) var localPorts: [ID: UInt32] = [:]
  public internal(set) var portIDs: [UInt32: ID] = [:]
  /// Tunnel endpoints of hosts, from the tunnel zones.
  public internal(set) var endpoints: [ID: TunnelEndpoint] = [:]
  var cachedTranslator: ActionTranslator?

  /// Exterior ports' `active` state, as published (before the liveness filter).
  public internal(set) var activations: [ID: PortActivation] = [:]
  /// Hosts known alive (this host always is).
  public internal(set) var aliveHosts: Set<ID>
  /// Hosts whose liveness was reported at least once.
  public internal(set) var livenessKnown: Set<ID> = []

  /// Replicas of the state tables, by device.
  public internal(set) var macTables: [ID: [MACAddress: ID]] = [:]
  public internal(set) var ipMACTables: [ID: [IPv4Address: MACAddress]] = [:]
  public internal(set) var arpTables: [ID: [IPv4Address: MACAddress]] = [:]
  /// Source-NAT leasing (AgentCore+NATLeases.swift): bindings per block (this host's and
  /// its peers' copies), the targets to lease more for, and the request under way.
  var natBlockUse: [NATBlock: Int] = [:]
  /// Blocks this host has bindings of but holds no lease on, by their holder (nil: none
  /// known, to be leased here), and the ones being asked about.
  public internal(set) var natForeignBlocks: [NATBlock: ID?] = [:]
  var natAdopting: Set<NATBlock> = []
  var natTargets: [IPv4Address: [NatTarget]] = [:]
  var natLeaseInFlight = false
  var natLeaseBackoffUntil: ContinuousClock.Instant?
  /// Ports that moved here from another host (seen in the topology), until attached.
  var movedFrom: [ID: ID] = [:]
  /// Attached ports whose hand-over has not arrived, and until when their packets wait.
  public internal(set) var awaitingHandOver: [ID: ContinuousClock.Instant] = [:]
  /// The lifetimes of the view's conntrack entries and NAT bindings.
  public var flowState: FlowStateTable
  /// MACs this host learned and wrote, and when a flow last used each.
  public internal(set) var learnedMACs: [LearnedMAC: ContinuousClock.Instant] = [:]

  /// Packets waiting for an ARP answer or a device, oldest first.
  public internal(set) var pending: [PendingPacket] = []
  public internal(set) var pendingGenerated: [PendingGenerated] = []
  /// Whether the topology changed since parked packets were last retried.
  public internal(set) var topologyChangedSincePendingRetry = false
  /// Tags of simulations that installed no flow, since the last topology sweep: what they
  /// used must stay loaded although no flow shows it.
  public internal(set) var usedTagsSinceSweep = Set<FlowTagHash>()

  public init(hostID: ID, settings: Settings, origin: ContinuousClock.Instant) {
    self.hostID = hostID
    self.settings = settings
    self.origin = origin
    self.simulator = Simulator(localHost: hostID)
    self.flowState = FlowStateTable(timeouts: settings.flowStateTimeouts)
    self.aliveHosts = [hostID]
  }

  /// The view, rebuilt first if the topology changed since it was built.
  public mutating func currentView() -> SimulationView {
    if viewIsStale {
      view = view.replacingTopology(snapshot)
      viewIsStale = false
    }
    return view
  }

  /// What the datapath can reach right now (rebuilt only after attachments or tunnel
  /// endpoints changed, not per miss).
  public mutating func translator() -> ActionTranslator {
    if let cachedTranslator { return cachedTranslator }
    let translator = ActionTranslator(localPorts: localPorts, endpoints: endpoints)
    cachedTranslator = translator
    return translator
  }

  /// The simulator's notion of now: time since the agent started.
  func elapsed(_ now: ContinuousClock.Instant) -> Duration { now - origin }
}

extension AgentCore {
  /// The tags noted since the last topology sweep, which starts a new period.
  public mutating func takeUsedTagsSinceSweep() -> Set<FlowTagHash> {
    defer { usedTagsSinceSweep = [] }
    return usedTagsSinceSweep
  }
}
