import Topology

// MARK: - Design
//
// Liveness between Midge agents: BFD (RFC 5880), cut down, over the tunnels.
//
// WHY. A host that dies takes its gateway ports with it. ZooKeeper notices when the host's
// session expires — seconds later. The other agents have a faster witness: the tunnel. Every
// agent sends every peer a small hello every `interval` (100 ms by default); a peer that has
// sent nothing for `multiplier` intervals (3, so 300 ms) is declared down. The monitor is the
// pure core of that: value types that take inputs stamped with a time the caller supplies and
// return directives. It does no IO, reads no clock, starts no thread; an actor in the Agent
// target (the shell) owns one, feeds it, and carries out what it returns — the shape of
// apple/swift-cluster-membership's `SWIM.Instance`. So every rule below is testable with
// injected time, deterministically.
//
// SESSIONS. One per peer host, keyed by host id (not by address: an underlay address change
// does not reset liveness). A session is *active* when the shell named the peer in
// `setPeers` — we send it hellos whether or not it answers, so it comes up as soon as the
// peer does. Any other host whose hello reaches us gets a *passive* session: answered while
// it talks (so a peer that monitors us sees a normal handshake), quiet once it has been
// silent for a detection time, forgotten after `passiveTimeoutMultiplier` detection times of
// silence. Dropping a host from `setPeers` demotes its session to passive rather than
// cutting it, so the other side does not see a flap; a passive session that never heard
// anything is simply dropped.
//
// HANDSHAKE. RFC 5880's three states and three-way handshake (§6.2, §6.8.6), per session:
//
//     local \ remote says   Down          Init          Up          AdminDown
//     Down                  -> Init       -> Up         (stay)      (stay)
//     Init                  (stay)        -> Up         -> Up       -> Down
//     Up                    -> Down       (stay)        (stay)      -> Down
//
// Each side carries the other's discriminator back ("your discriminator"); a hello that
// names a discriminator we do not have is stale (from before our restart) and is ignored,
// as is one addressed to another host or sent by ourselves. Every state change sends a hello
// at once instead of waiting for the timer, so two fresh monitors are Up one round trip
// after the first hello, not two intervals later. Entering Up emits `.peerUp`; leaving it
// emits `.peerDown`.
//
// TIMERS. Hellos go out every 75-100 % of the interval (RFC 5880 §6.8.7's jitter, so hosts
// started together do not send in lockstep), drawn from a SplitMix64 seeded from the host
// id: the same inputs give the same outputs, run after run. The detection time of a session
// is the peer's multiplier times the larger of its interval and ours (each side receives no
// faster than the slower sender sends). An Up or Init session that has heard nothing for a
// detection time goes Down and forgets the peer's discriminator. `nextDeadline` is the
// earliest hello due, detection deadline or passive expiry; the shell must call `tick` by
// then. Because a hello is always due within one interval, a monitor with any session
// never has a deadline more than one interval away.
//
// STALLS. Detection measures silence with our clock, so it cannot tell "the peer went
// quiet" from "we were not running" (SIGSTOP, a VM paused, a host swapping, a starved
// event loop). Every call carries `now`; if more than max(2 x interval, interval + 50 ms)
// passed since the previous call, this host itself was stopped. Then, before anything
// else, the monitor emits `.stalled(gap)` and:
//   - treats every session as just heard, so the stall alone never times a peer out (the
//     silence we "saw" was our own);
//   - picks a new discriminator, so peers see a restart and discard hellos addressed to the
//     old session (they may well have declared us down meanwhile, and rightly so);
//   - puts every session back to Down and says hello to every peer at once, emitting
//     `.peerDown` for each session that was Up. These are not verdicts on the peers: they
//     tell the shell that its view is stale and that whatever it derived from "peer up"
//     must be re-earned. The handshake re-establishes within about one interval.
// A monitor with no sessions has nothing to misjudge: a gap then is not a stall.
//
// WHAT THE MONITOR DOES NOT DECIDE. It reports peers up and down, what each peer says it
// serves, and its own stalls. It never decides who serves a gateway port, never fails a port
// over, never writes to the NSDB and never trusts a peer's serving list for anything but
// reporting. Those decisions belong to the shell and the election above it, which must
// also weigh ZooKeeper's view: a partition of the tunnel network makes both sides report
// each other down, and only something with a quorum can decide which side keeps a port.
//
// COST. Every call is O(sessions) time and allocation (new peers in `setPeers` are sorted,
// so their order — and the jitter drawn for them — does not depend on hashing). Sessions
// live in an array in a fixed order with an id-to-index table.

/// The liveness sessions of one host with its peers: a pure state machine driven by hellos
/// and injected time, returning what to send and which peers came up or went down.
public struct LivenessMonitor: Sendable {
  /// Timers and limits. Out-of-range values are clamped by the monitor (see `configuration`).
  public struct Configuration: Sendable, Equatable {
    /// Our desired transmit interval (whole ms, 1...65535).
    public var interval: Duration = .milliseconds(100)
    /// How many of our intervals a peer waits before declaring us down (1...255).
    public var multiplier: Int = 3
    /// A passive session is forgotten after this many detection times of silence.
    public var passiveTimeoutMultiplier: Int = 10
    /// At most this many passive sessions; hellos from further unknown hosts are ignored
    /// (a bound on what spoofed senders can make us hold).
    public var maxPassiveSessions: Int = 4096

    /// A configuration; the defaults detect a dead peer in 300 ms.
    public init(
      interval: Duration = .milliseconds(100), multiplier: Int = 3,
      passiveTimeoutMultiplier: Int = 10, maxPassiveSessions: Int = 4096
    ) {
      self.interval = interval
      self.multiplier = multiplier
      self.passiveTimeoutMultiplier = passiveTimeoutMultiplier
      self.maxPassiveSessions = maxPassiveSessions
    }
  }

  /// Our view of a peer.
  public enum PeerState: Sendable, Equatable {
    case down
    case initializing
    case up
  }

  /// What the shell must do, in order.
  public enum Directive: Sendable, Equatable {
    /// Send this hello to that host (the shell looks up its tunnel endpoint).
    case send(LivenessHello, to: ID)
    /// The peer completed the handshake.
    case peerUp(ID)
    /// The peer was Up and no longer is (it went silent, said Down, or we stalled).
    case peerDown(ID)
    /// This host itself did not run for that long; always first in its batch.
    case stalled(Duration)
  }

  /// This host.
  public let host: ID
  /// The configuration in force, clamped to what the wire can carry.
  public let configuration: Configuration
  /// Our discriminator for every session; changes after a stall.
  public internal(set) var discriminator: UInt32
  /// Hellos ignored: from ourselves, for another host, naming a discriminator we do not
  /// have, invalid, or from an unknown host beyond `maxPassiveSessions`.
  public internal(set) var ignored: Int = 0
  /// How many stalls this monitor has seen.
  public internal(set) var stalls: Int = 0

  var sessions: [Session] = []
  var index: [ID: Int] = [:]
  var servingPorts: [ID] = []
  var lastCall: Duration
  var random: SplitMix64

  /// A monitor for `host` with no sessions; `now` is the shell's current time.
  public init(host: ID, configuration: Configuration = .init(), now: Duration) {
    self.host = host
    self.configuration = Self.clamped(configuration)
    self.lastCall = now
    self.random = SplitMix64(seed: host)
    self.discriminator = 0
    self.discriminator = newDiscriminator()
  }

  /// The configuration with every value in range: interval truncated to whole ms in
  /// 1...65535, multiplier 1...255, passive timeout at least 1, passive limit at least 0.
  static func clamped(_ configuration: Configuration) -> Configuration {
    let hello = LivenessHello(
      sender: .zero, myDiscriminator: 1, state: .down, interval: configuration.interval,
      multiplier: 1)
    var result = configuration
    result.interval = .milliseconds(max(1, hello.intervalMilliseconds))
    result.multiplier = min(max(configuration.multiplier, 1), 255)
    result.passiveTimeoutMultiplier = min(max(configuration.passiveTimeoutMultiplier, 1), 1000)
    result.maxPassiveSessions = max(configuration.maxPassiveSessions, 0)
    return result
  }

  /// A fresh non-zero discriminator, different from the current one.
  mutating func newDiscriminator() -> UInt32 {
    var value = UInt32(truncatingIfNeeded: random.next())
    if value == 0 { value = 1 }
    if value == discriminator { value = value == UInt32.max ? 1 : value + 1 }
    return value
  }

  // MARK: Queries

  /// Our view of `peer`; `.down` for hosts we have no session with.
  public func state(of peer: ID) -> PeerState {
    guard let position = index[peer] else { return .down }
    return sessions[position].state
  }

  /// The peers whose sessions are Up.
  public var upPeers: Set<ID> {
    Set(sessions.lazy.filter { $0.state == .up }.map(\.peer))
  }

  /// The hosts we keep active sessions with (the last `setPeers`).
  public var peers: Set<ID> {
    Set(sessions.lazy.filter(\.active).map(\.peer))
  }

  /// How many sessions, active and passive, the monitor holds.
  public var sessionCount: Int { sessions.count }

  /// The gateway ports `peer` said it serves in its last hello; `[]` unless it is Up.
  public func serving(of peer: ID) -> [ID] {
    guard let position = index[peer], sessions[position].state == .up else { return [] }
    return sessions[position].serving
  }

  /// When we last accepted a hello from `peer` (or, after a stall, the stall's end).
  public func lastHeard(from peer: ID) -> Duration? {
    guard let position = index[peer] else { return nil }
    return sessions[position].lastHeard
  }

  /// The ports we report serving in our hellos.
  public var serving: [ID] { servingPorts }
}
