import Addresses
import Packets
import Topology

/// What became of the simulated packet.
public enum Verdict: Hashable, Sendable, CustomStringConvertible {
  /// Delivered: `SimulationResult.actions` holds at least one output.
  case forward
  /// Dropped; install a drop flow (its tags say when to remove it).
  case drop(DropReason)
  /// The simulator answered the packet itself (an ARP request, an echo to a
  /// router) or took what it needed from it (an ARP reply). Install no flow:
  /// every such packet must be seen.
  case consumed
  /// A router needs the next hop's MAC; an ARP request is among the generated
  /// packets. Install no flow; simulate the packet again once the ARP entry
  /// (tag `.arpEntry(router, ip)`) appears, or drop it after a timeout.
  case awaitingARP(router: ID, ip: IPv4Address)
  /// These topology objects are not in the view yet. Park the packet, load
  /// them, and simulate again (MidoNet's `NotYetException`).
  case notYet([ObjectRef])

  public var description: String {
    switch self {
    case .forward: return "forward"
    case .drop(let reason): return "drop: \(reason)"
    case .consumed: return "consumed"
    case .awaitingARP(let router, let ip): return "awaiting ARP for \(ip) at router \(router)"
    case .notYet(let ids):
      return "not yet loaded: \(ids.map(\.description).joined(separator: ", "))"
    }
  }
}

/// A packet the simulation asks the shell to send.
public struct GeneratedPacket: Hashable, Sendable {
  /// What the packet is, for traces and metrics.
  public enum Kind: Hashable, Sendable {
    case arpReply
    case arpRequest
    case icmpError
    case icmpEchoReply
    case tcpReset
  }

  public var kind: Kind
  /// The complete frame.
  public var frame: [UInt8]
  /// The port it leaves from, as if the device had sent it out of that port:
  /// for an exterior port the frame goes to that port's interface (or host);
  /// for an interior port it enters the peer port and must itself be
  /// simulated (`Simulator.simulateGenerated`).
  public var egressPort: ID

  public init(kind: Kind, frame: [UInt8], egressPort: ID) {
    self.kind = kind
    self.frame = frame
    self.egressPort = egressPort
  }
}

/// Everything one simulation decided: the directives the shell carries out.
public struct SimulationResult: Sendable {
  public var verdict: Verdict
  /// The flow's actions, in order; empty unless the verdict is `.forward`.
  public var actions: [FlowAction]
  /// Every reason to remove the flow, without duplicates.
  public var tags: [FlowTag]
  /// Packets to send (ARP replies and requests, ICMP errors, TCP resets).
  public var generatedPackets: [GeneratedPacket]
  /// State for the shell to record.
  public var stateChanges: [StateChange]
  /// The step-by-step trace; empty unless requested.
  public var trace: [TraceStep]
  /// How many bridges and routers the packet entered (all branches of a flood).
  public var devicesVisited: Int
  /// The `now` the simulation was given, for stamping the state changes.
  public var time: Duration

  public init(
    verdict: Verdict, actions: [FlowAction] = [], tags: [FlowTag] = [],
    generatedPackets: [GeneratedPacket] = [], stateChanges: [StateChange] = [],
    trace: [TraceStep] = [], devicesVisited: Int = 0, time: Duration = .zero
  ) {
    self.verdict = verdict
    self.actions = actions
    self.tags = tags
    self.generatedPackets = generatedPackets
    self.stateChanges = stateChanges
    self.trace = trace
    self.devicesVisited = devicesVisited
    self.time = time
  }

  /// Whether the shell should install a flow: for forwards and drops of
  /// anything but ARP. ARP is always simulated so that learning and ARP
  /// suppression see every request; consumed packets, packets waiting for ARP
  /// and parked packets get no flow.
  public var installsFlow: Bool {
    switch verdict {
    case .forward, .drop: return !isARP
    case .consumed, .awaitingARP, .notYet: return false
    }
  }

  /// Set by the simulator: whether the simulated packet was ARP.
  public var isARP = false

  /// The ports the flow outputs to (local or through a tunnel), in order.
  public var outputPorts: [ID] {
    actions.compactMap {
      switch $0 {
      case .output(let port), .tunnel(let port, _, _): return port
      default: return nil
      }
    }
  }
}
