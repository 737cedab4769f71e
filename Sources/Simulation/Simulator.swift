// MARK: - Design: the first-packet simulator
//
// What it does. When the datapath sees a packet that matches no flow, the agent
// asks the simulator what the virtual topology would do with it. The simulator
// walks the packet from its ingress port through every device it would cross —
// port filters, bridges (MAC learning, flooding, ARP suppression), routers
// (longest-prefix match, ARP, TTL, ICMP), rule chains (conntrack, NAT) — and
// answers with a `SimulationResult`: the flow's actions in topology terms
// (outputs to local ports or to a remote host's tunnel, field rewrites, TTL
// decrements), the flow's tags, packets to send (ARP replies and requests,
// ICMP errors, TCP resets), state changes to record (MACs and ARP entries
// learned, conntrack entries, NAT bindings) and, when asked, a trace a person
// can read. The agent installs the flow and every later packet of the flow is
// handled by the datapath alone; that is why the first packet may be expensive
// and why the flow must say exactly what it depends on.
//
// What is pure. Following the SWIM.Instance pattern of
// apple/swift-cluster-membership, `Simulator` is a value with no IO: it reads
// no clock (`now` is passed in), touches no ZooKeeper, draws no random
// numbers, and never mutates what it is given. Every effect is a directive in
// the result, carried out by the actor shell in the agent. Where MidoNet drew
// random numbers — ECMP among equal routes, NAT port allocation — Midge uses a
// fixed hash of the flow's 5-tuple (`FlowHash`), so every host makes the same
// choice for the same flow and tests are reproducible.
//
// The view. The simulation reads a `SimulationView`: the loaded part of the
// topology plus the state tables (MAC tables, bridge IP→MAC, router ARP,
// conntrack, NAT, active ports). The view is a snapshot; the shell applies the
// result's state changes to its own copy afterwards. Two packets simulated at
// once may both decide to learn the same MAC or allocate the same NAT port;
// the shell's write (an NSDB/conntrack table insert) is where such races are
// settled, as in MidoNet.
//
// Not yet. Topology arrives asynchronously from the NSDB. When the walk needs
// an object that is not in the view — a port, a peer's device, a chain, a
// jump target, a rule, an address group — the result is `.notYet(ids)`: the
// shell parks the packet, asks the NSDB for those objects and simulates the
// packet again when they arrive. That is MidoNet's `NotYetException`, as a
// return value. A not-yet result carries no actions, no generated packets
// and no state changes: the repeated simulation will produce them.
//
// Why tags. A flow is correct only as long as what the simulation looked at
// stays the same. Rather than flushing every flow on any change, each flow is
// indexed by what it depended on: every device, port and chain traversed, and
// finer tags for the things that change often — a bridge's entry for one MAC
// on one VLAN, a router's route choice for one destination, one ARP entry
// (`FlowTag`). A learned MAC then removes only the flows that flooded for it.
//
// Termination. Every walk is bounded: at most `maxDevices` bridges and routers
// per simulation (all branches of a flood together), JUMPs nested at most
// `maxJumpDepth` deep. A topology loop or a jump loop ends in a drop whose
// reason says so.

import Packets
import Topology

/// The pure first-packet simulator; see the design notes at the top of this file.
public struct Simulator: Sendable {
  /// Limits and identity.
  public struct Configuration: Hashable, Sendable {
    /// The host this simulator runs on: an exterior port served here is
    /// output to locally, any other through a tunnel.
    public var localHost: ID
    /// The most bridges and routers one simulation may enter (the loop guard).
    public var maxDevices: Int
    /// The deepest nesting of JUMPs (the jump-loop guard).
    public var maxJumpDepth: Int
    /// How many NAT candidates are tried before giving up.
    public var maxNATProbes: Int

    public init(
      localHost: ID, maxDevices: Int = 16, maxJumpDepth: Int = 16, maxNATProbes: Int = 256
    ) {
      self.localHost = localHost
      self.maxDevices = maxDevices
      self.maxJumpDepth = maxJumpDepth
      self.maxNATProbes = maxNATProbes
    }
  }

  public var configuration: Configuration

  public init(configuration: Configuration) {
    self.configuration = configuration
  }

  /// A simulator for `localHost` with default limits.
  public init(localHost: ID) {
    self.init(configuration: Configuration(localHost: localHost))
  }

  /// Simulates `packet` entering the topology through port `ingress`.
  ///
  /// - Parameters:
  ///   - now: the shell's notion of the current time, since an epoch of its
  ///     choosing. The simulator does not read a clock; it is carried into
  ///     the result (`SimulationResult.time`) so state changes can be stamped.
  ///   - trace: whether to record a human-readable trace (costs allocations).
  public func simulate(
    _ packet: SimulationPacket, ingress: ID, view: SimulationView, now: Duration = .zero,
    trace: Bool = false
  ) -> SimulationResult {
    var context = SimulationContext(packet: packet, tracing: trace)
    context.note(.decision, ingress, "simulating \(packet.match)")
    let outcome = enterPort(ingress, view, &context)
    return finish(outcome, &context, view, now: now)
  }

  /// Simulates a generated packet leaving `generated.egressPort`: into the
  /// peer port for an interior port, straight out for an exterior one.
  public func simulateGenerated(
    _ generated: GeneratedPacket, view: SimulationView, now: Duration = .zero, trace: Bool = false
  ) -> SimulationResult {
    guard let packet = try? SimulationPacket(frame: generated.frame) else {
      return SimulationResult(verdict: .drop(.malformed), time: now)
    }
    guard let port = view.topology.ports[generated.egressPort] else {
      return SimulationResult(verdict: .notYet([ObjectRef(.port, generated.egressPort)]), time: now)
    }
    if let peer = port.peerId {
      return simulate(packet, ingress: peer, view: view, now: now, trace: trace)
    }
    var context = SimulationContext(packet: packet, tracing: trace)
    let outcome = deliver(port, view, &context)
    return finish(outcome, &context, view, now: now)
  }

  /// Asks for the return-flow entry `key` unless the view has it.
  private func track(
    _ key: ConntrackKey, _ context: inout SimulationContext, _ view: SimulationView
  ) {
    // Tagged whether new or known: the forward flow keeps the entry in use.
    context.tag(.conntrack(key))
    guard !view.conntrack.contains(key) else { return }
    context.note(.conntrack, key.device, "forward flow: track return \(key.tuple)")
    context.change(.conntrack(key))
  }

  /// Turns the walk's outcome and collected directives into the result.
  private func finish(
    _ outcome: Outcome, _ context: inout SimulationContext, _ view: SimulationView, now: Duration
  ) -> SimulationResult {
    let verdict: Verdict
    switch outcome {
    case .output:
      verdict = .forward
      if context.forwardFlow == true, let first = context.firstEgressKey {
        track(first, &context, view)
        for key in context.moreEgressKeys { track(key, &context, view) }
      }
    case .drop(let reason): verdict = .drop(reason)
    case .consumed: verdict = .consumed
    case .awaitingARP(let router, let ip): verdict = .awaitingARP(router: router, ip: ip)
    case .notYet(let ids):
      verdict = .notYet(ids)
      context.generated = []
      context.changes = []
    }
    if case .forward = verdict {} else { context.actions = [] }
    context.note(.decision, nil, "\(verdict)")
    var result = SimulationResult(
      verdict: verdict, actions: context.actions, tags: context.tags,
      generatedPackets: context.generated, stateChanges: context.changes, trace: context.trace,
      devicesVisited: context.devices, time: now)
    result.isARP = context.packet.match.etherType == .arp
    return result
  }
}
