import Datapath
import Topology

/// This host's hold on the gateway ports it leads, as a value: when to confirm the lease,
/// how far the port gates may stay open, when a fenced host steps down and stands again,
/// and when it may fence another host.
///
/// A gateway port (one several hosts can serve) is led by the winner of its ZooKeeper
/// election. The leader's datapath carries the port only until the instant it sent its
/// last good lease confirmation plus one lease (`PortGate`, checked in the packet
/// threads), so a leader that cannot confirm — frozen, cut off, fenced — falls silent by
/// itself before anyone else takes the port. This type holds those rules and no IO: every
/// input carries the time (DatapathClock nanoseconds, the clock the gates compare
/// against), and every decision comes back as a `Directive` the actor carries out, so the
/// rules are unit-tested with plain numbers (Tests/AgentCoreTests/GatewayLeaseTests).
public struct GatewayLease: Sendable {
  /// The knobs (from the agent's configuration).
  public struct Settings: Sendable, Hashable {
    /// Whether liveness and the lease run at all. Without them an elected port's gate is
    /// always open and the election alone decides.
    public var enabled: Bool
    /// How long one good confirmation keeps the gates open.
    public var lease: Duration
    /// The margin a taker waits beyond one lease before it evicts a fenced holder, and a
    /// fenced holder waits, gates shut, before it leaves its elections.
    public var leaseGuard: Duration
    /// How long a fenced host stays out of elections.
    public var holdDown: Duration

    public init(enabled: Bool, lease: Duration, leaseGuard: Duration, holdDown: Duration) {
      self.enabled = enabled
      self.lease = lease
      self.leaseGuard = leaseGuard
      self.holdDown = holdDown
    }
  }

  /// What a confirmation found in ZooKeeper.
  public enum Confirmation: Sendable, Hashable {
    /// The lease node is this host's and unfenced.
    case held
    /// Another host fenced it.
    case fenced
    /// The node is gone (a new session re-creates it).
    case gone
    /// The read failed (no connection).
    case failed
  }

  /// What the actor does next, in order.
  public enum Directive: Sendable, Hashable {
    /// Ask ZooKeeper whether the lease is still this host's; feed the answer, with
    /// `sentAt`, to `confirmed(sentAt:_:now:)`.
    case confirm(sentAt: UInt64)
    /// Open the gates of the led, attached ports until `deadline`, and announce (a
    /// gratuitous ARP) the ports in `announce`, which were attached while shut.
    case openGates(deadline: UInt64, announce: Set<ID>)
    /// Fenced by another host: shut every elected port's gate now, leave every election,
    /// and after `pause` (frames in flight drain) step down and renew the lease.
    case stepDown(pause: Duration)
    /// The hold-down is over: stand again in every election this host is a candidate of.
    case standAgain
  }

  public let settings: Settings
  /// The gates of led ports are open until then (`PortGate.closed` before the first
  /// good confirmation and after a fence).
  public private(set) var deadline: UInt64 = PortGate.closed
  /// While set, this host was fenced and stays out of elections until then.
  public private(set) var heldDownUntil: UInt64?
  /// Whether this host's ZooKeeper session is connected (no takeover otherwise: a host
  /// cut off from ZooKeeper is the likelier one to be wrong).
  public private(set) var sessionConnected = false
  private var confirmInFlight = false
  private var lastConfirm: UInt64?
  private var lastStall: UInt64?
  /// Elected ports attached while the gate was shut: announced once it opens.
  private var announceWhenOpen = Set<ID>()

  public init(settings: Settings) {
    self.settings = settings
  }

  /// A third of a lease: confirmations go this often, so two may fail before the gates
  /// shut.
  var confirmInterval: UInt64 { Self.nanoseconds(settings.lease) / 3 }

  /// Whether this host is inside a hold-down after a fence.
  public var isHeldDown: Bool { heldDownUntil != nil }

  /// How long a taker waits after fencing a holder before it evicts it: one lease (the
  /// holder's gates shut by then even if it confirmed just before the fence) plus the
  /// guard (a ZooKeeper follower that applied the fence late).
  public var takeoverWait: Duration { settings.lease + settings.leaseGuard }

  // MARK: Events

  /// The periodic tick. `standing`: this host is a candidate in some election and has a
  /// lease node to confirm.
  public mutating func tick(now: UInt64, standing: Bool) -> [Directive] {
    var directives: [Directive] = []
    if let until = heldDownUntil, now >= until {
      heldDownUntil = nil
      directives.append(.standAgain)
    }
    if settings.enabled, standing, !confirmInFlight,
      lastConfirm.map({ now &- $0 >= confirmInterval }) ?? true
    {
      confirmInFlight = true
      lastConfirm = now
      directives.append(.confirm(sentAt: now))
    }
    return directives
  }

  /// The answer to a `.confirm(sentAt:)`.
  public mutating func confirmed(sentAt: UInt64, _ result: Confirmation, now: UInt64)
    -> [Directive]
  {
    confirmInFlight = false
    switch result {
    case .held:
      // Counted from when the question left, not when the answer came: the fence a
      // taker wrote may have landed in between.
      let extended = sentAt &+ Self.nanoseconds(settings.lease)
      guard extended > deadline else { return [] }
      deadline = extended
      let announce = announceWhenOpen
      announceWhenOpen = []
      return [.openGates(deadline: extended, announce: announce)]
    case .fenced:
      deadline = PortGate.closed
      heldDownUntil = now &+ Self.nanoseconds(settings.holdDown)
      announceWhenOpen = []
      return [.stepDown(pause: settings.leaseGuard)]
    case .gone, .failed:
      return []  // the gates lapse by themselves; a new session re-creates the node
    }
  }

  /// The session's state changed.
  public mutating func session(connected: Bool) {
    sessionConnected = connected
  }

  /// The agent did not run for a while (liveness noticed a stall of its own): every peer
  /// looks down for a moment, which says nothing about them.
  public mutating func stalled(now: UInt64) {
    lastStall = now
  }

  /// An elected port is being attached: the gate it starts with. Announced at once if
  /// open, else at the next `.openGates`.
  public mutating func attachElected(_ port: ID, now: UInt64) -> (gate: UInt64, announceNow: Bool) {
    let gate = gate(now: now)
    if gate == PortGate.closed {
      announceWhenOpen.insert(port)
      return (gate, false)
    }
    return (gate, true)
  }

  /// A port was detached: nothing to announce for it any more.
  public mutating func detached(_ port: ID) {
    announceWhenOpen.remove(port)
  }

  // MARK: Questions

  /// The gate an elected port gets now: the lease's deadline while it has not passed,
  /// shut otherwise; always open without the lease.
  public func gate(now: UInt64) -> UInt64 {
    guard settings.enabled else { return PortGate.always }
    return deadline > now ? deadline : PortGate.closed
  }

  /// Whether a led, attached port is carried now.
  public func isServing(now: UInt64) -> Bool {
    !settings.enabled || deadline > now
  }

  /// Whether this host may join an election now (not inside a hold-down).
  public func mayStand(now: UInt64) -> Bool {
    guard let until = heldDownUntil else { return true }
    return now >= until
  }

  /// Whether this host may fence a silent holder now: its session is connected, it is
  /// not held down itself, and it did not just stall (a second of grace).
  public func mayTakeOver(now: UInt64) -> Bool {
    guard settings.enabled, sessionConnected, heldDownUntil == nil else { return false }
    if let stall = lastStall, now &- stall < 1_000_000_000 { return false }
    return true
  }

  /// How long a candidate waits before it joins an election: 250 ms per step of priority
  /// below the best candidate's, at most 4 s. On a cold start the highest-priority live
  /// host therefore leads; after a failover the next in line keeps the port (the
  /// election never pre-empts).
  public static func joinDelay(priority: Int32, best: Int32) -> Duration {
    let steps = max(0, Int64(best) - Int64(priority))
    return .milliseconds(min(4_000, steps * 250))
  }

  /// Whole nanoseconds of a non-negative duration.
  static func nanoseconds(_ duration: Duration) -> UInt64 {
    let (seconds, attoseconds) = duration.components
    guard seconds >= 0 else { return 0 }
    return UInt64(seconds) * 1_000_000_000 + UInt64(attoseconds / 1_000_000_000)
  }
}
