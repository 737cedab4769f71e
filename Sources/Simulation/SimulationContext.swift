import Addresses
import Packets
import Topology

/// How one branch of a simulation ended; branches of a flood are combined.
enum Outcome {
  case output
  case drop(DropReason)
  case consumed
  case awaitingARP(router: ID, ip: IPv4Address)
  case notYet([ObjectRef])

  /// Combines the outcomes of the branches of a flood: a missing object
  /// anywhere means simulate again; a loop anywhere drops the whole packet
  /// (a flood that loops would otherwise deliver copies forever); any
  /// delivery makes the flow a forward; otherwise the first branch's reason
  /// stands.
  static func combine(_ lhs: Outcome?, _ rhs: Outcome) -> Outcome {
    guard let lhs else { return rhs }
    switch (lhs, rhs) {
    case (.notYet(let a), .notYet(let b)): return .notYet(a + b.filter { !a.contains($0) })
    case (.notYet, _): return lhs
    case (_, .notYet): return rhs
    case (.drop(.tooManyDevices), _): return lhs
    case (_, .drop(.tooManyDevices)): return rhs
    case (.output, _): return lhs
    case (_, .output): return rhs
    case (.awaitingARP, _): return lhs
    case (_, .awaitingARP): return rhs
    case (.consumed, _): return lhs
    case (_, .consumed): return rhs
    default: return lhs
    }
  }
}

/// The packet's state at a fork point: what each branch of a flood starts from.
struct BranchState {
  var match: FlowMatch
  var inPort: ID
}

/// The mutable state of one simulation: the packet as modified so far and
/// everything collected for the result. Internal and short-lived; one per
/// `simulate` call.
struct SimulationContext {
  /// The packet as it entered.
  let packet: SimulationPacket
  /// The packet as the devices have modified it so far.
  var match: FlowMatch
  /// The packet as the flow actions emitted so far leave it; outputs emit
  /// set-field actions for the difference (`Simulator+Actions.swift`).
  var emitted: FlowMatch
  /// The port through which the packet entered the current device.
  var inPort: ID = .zero
  /// The device of the simulation's ingress port (conntrack's ingress key).
  var ingressDevice: ID?
  let flowHash: UInt64

  var actions: [FlowAction] = []
  var tags: [FlowTag] = []
  var generated: [GeneratedPacket] = []
  var changes: [StateChange] = []
  var trace: [TraceStep] = []
  let tracing: Bool
  var devices = 0

  /// nil until a chain needs the connection direction.
  var forwardFlow: Bool?
  /// Return-flow keys for the outputs so far (recorded only if the flow
  /// turns out to be a tracked forward flow). The first is kept apart so the
  /// common single-output flow allocates nothing for it.
  var firstEgressKey: ConntrackKey?
  var moreEgressKeys: [ConntrackKey] = []

  init(packet: SimulationPacket, tracing: Bool) {
    self.packet = packet
    self.match = packet.match
    self.emitted = packet.match
    self.tracing = tracing
    self.flowHash = FlowHash.of(packet.match)
    tags.reserveCapacity(16)
    actions.reserveCapacity(8)
  }

  var branch: BranchState {
    get { BranchState(match: match, inPort: inPort) }
    set {
      match = newValue.match
      inPort = newValue.inPort
    }
  }

  /// Adds a tag once.
  mutating func tag(_ tag: FlowTag) {
    if !tags.contains(tag) { tags.append(tag) }
  }

  /// Adds a trace step; the text is only built when tracing.
  mutating func note(_ kind: TraceStep.Kind, _ object: ID?, _ detail: @autoclosure () -> String) {
    if tracing { trace.append(TraceStep(kind: kind, object: object, detail: detail())) }
  }

  mutating func recordEgress(_ key: ConntrackKey) {
    guard let first = firstEgressKey else {
      firstEgressKey = key
      return
    }
    if first != key && !moreEgressKeys.contains(key) { moreEgressKeys.append(key) }
  }

  mutating func change(_ change: StateChange) {
    if !changes.contains(change) { changes.append(change) }
  }

  mutating func send(_ kind: GeneratedPacket.Kind, _ frame: [UInt8], out port: ID) {
    generated.append(GeneratedPacket(kind: kind, frame: frame, egressPort: port))
  }

  /// The frame as modified so far (addresses, ports, TTL; not VLAN tags), for
  /// building answers that quote or mirror it. Off the fast path.
  func currentFrame() -> [UInt8] {
    var frame = packet.frame
    guard var parsed = try? PacketParser.parse(frame) else { return frame }
    let old = packet.match
    if match.ethernetSource != old.ethernetSource {
      parsed.setEthernetSource(match.ethernetSource, in: &frame)
    }
    if match.ethernetDestination != old.ethernetDestination {
      parsed.setEthernetDestination(match.ethernetDestination, in: &frame)
    }
    if let ip = match.networkSource, ip != old.networkSource {
      try? parsed.setNetworkSource(ip, in: &frame)
    }
    if let ip = match.networkDestination, ip != old.networkDestination {
      try? parsed.setNetworkDestination(ip, in: &frame)
    }
    if match.networkProtocol == .icmp {
      if let id = match.icmpEchoID, id != old.icmpEchoID {
        try? parsed.setTransportSource(id, in: &frame)
      }
    } else {
      if let port = match.transportSource, port != old.transportSource {
        try? parsed.setTransportSource(port, in: &frame)
      }
      if let port = match.transportDestination, port != old.transportDestination {
        try? parsed.setTransportDestination(port, in: &frame)
      }
    }
    if let ttl = match.networkTTL, let oldTTL = old.networkTTL, ttl < oldTTL {
      for _ in ttl..<oldTTL { _ = try? parsed.decrementTTL(in: &frame) }
    }
    return frame
  }
}

extension FlowMatch {
  /// Whether a router may answer this packet with an ICMP error (RFC 1122
  /// §3.2.2, RFC 1812 §4.3.2.7): IPv4, not an ICMP error itself, not a later
  /// fragment, not to a broadcast or multicast, from a unicast source. The
  /// same test as `ParsedPacket.mayElicitICMPError`, on the match.
  var mayElicitICMPError: Bool {
    guard let source = networkSource, let destination = networkDestination else { return false }
    if fragmentType == .later { return false }
    if ethernetDestination.isMulticast { return false }
    if destination.isBroadcast || destination.isMulticast { return false }
    if source.isUnspecified || source.isBroadcast || source.isMulticast || source.isLoopback {
      return false
    }
    if networkProtocol == .icmp {
      guard let type = transportSource else { return false }
      if ICMPType(rawValue: UInt8(truncatingIfNeeded: type)).isError { return false }
    }
    return true
  }
}
