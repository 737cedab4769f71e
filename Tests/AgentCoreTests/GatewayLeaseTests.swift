import AgentCore
import Datapath
import Testing
import Topology

@Suite("GatewayLease: the gates of led gateway ports, fencing and hold-down")
struct GatewayLeaseTests {
  static let ms: UInt64 = 1_000_000
  static let uplink = ID(name: "uplink")
  static let other = ID(name: "other-uplink")

  /// A lease of 250 ms, guard 100 ms, hold-down 10 s (the agent's defaults).
  func lease(enabled: Bool = true) -> GatewayLease {
    GatewayLease(
      settings: GatewayLease.Settings(
        enabled: enabled, lease: .milliseconds(250), leaseGuard: .milliseconds(100),
        holdDown: .seconds(10)))
  }

  /// The `sentAt` of the confirmation among `directives`, if there is one.
  func confirmation(_ directives: [GatewayLease.Directive]) -> UInt64? {
    for case .confirm(let sentAt) in directives { return sentAt }
    return nil
  }

  @Test("a candidate confirms at once, then every third of a lease, one at a time")
  func confirmationPace() {
    var lease = lease()
    let t0: UInt64 = 5_000 * Self.ms
    #expect(lease.tick(now: t0, standing: false).isEmpty, "no election, nothing to confirm")
    #expect(confirmation(lease.tick(now: t0, standing: true)) == t0)
    // One in flight: no second question, however long the answer takes.
    #expect(lease.tick(now: t0 + 200 * Self.ms, standing: true).isEmpty)
    _ = lease.confirmed(sentAt: t0, .held, now: t0 + 210 * Self.ms)
    // Answered, and more than a third of a lease since the question: the next one goes.
    #expect(confirmation(lease.tick(now: t0 + 210 * Self.ms, standing: true)) == t0 + 210 * Self.ms)
  }

  @Test("the next confirmation waits a third of a lease after the previous question")
  func confirmationInterval() {
    var lease = lease()
    let t0: UInt64 = 1_000 * Self.ms
    _ = lease.tick(now: t0, standing: true)
    _ = lease.confirmed(sentAt: t0, .held, now: t0 + Self.ms)
    #expect(lease.tick(now: t0 + 50 * Self.ms, standing: true).isEmpty)
    #expect(confirmation(lease.tick(now: t0 + 84 * Self.ms, standing: true)) == t0 + 84 * Self.ms)
  }

  @Test("a held lease opens the gates until the question's time plus one lease, never less")
  func heldOpensGates() {
    var lease = lease()
    let t0: UInt64 = 1_000 * Self.ms
    #expect(lease.gate(now: t0) == PortGate.closed)
    #expect(!lease.isServing(now: t0))
    _ = lease.tick(now: t0, standing: true)
    // The answer comes 40 ms later; the deadline counts from the question.
    let open = lease.confirmed(sentAt: t0, .held, now: t0 + 40 * Self.ms)
    #expect(open == [.openGates(deadline: t0 + 250 * Self.ms, announce: [])])
    #expect(lease.gate(now: t0 + 40 * Self.ms) == t0 + 250 * Self.ms)
    #expect(lease.isServing(now: t0 + 249 * Self.ms))
    #expect(!lease.isServing(now: t0 + 250 * Self.ms))
    #expect(lease.gate(now: t0 + 250 * Self.ms) == PortGate.closed, "lapses by itself")
    // An older answer arriving late does not pull the deadline back.
    #expect(lease.confirmed(sentAt: t0 - 100 * Self.ms, .held, now: t0 + 50 * Self.ms).isEmpty)
    #expect(lease.deadline == t0 + 250 * Self.ms)
  }

  @Test("a port attached while the gate is shut is announced when it opens, once")
  func announceWhenOpen() {
    var lease = lease()
    let t0: UInt64 = 1_000 * Self.ms
    let attached = lease.attachElected(Self.uplink, now: t0)
    #expect(attached.gate == PortGate.closed && !attached.announceNow)
    _ = lease.tick(now: t0, standing: true)
    #expect(
      lease.confirmed(sentAt: t0, .held, now: t0 + Self.ms)
        == [.openGates(deadline: t0 + 250 * Self.ms, announce: [Self.uplink])])
    // Attached while open: its gate is the deadline, announced at once.
    let second = lease.attachElected(Self.other, now: t0 + 2 * Self.ms)
    #expect(second.gate == t0 + 250 * Self.ms && second.announceNow)
    _ = lease.tick(now: t0 + 90 * Self.ms, standing: true)
    #expect(
      lease.confirmed(sentAt: t0 + 90 * Self.ms, .held, now: t0 + 91 * Self.ms)
        == [.openGates(deadline: t0 + 340 * Self.ms, announce: [])])
  }

  @Test("a port detached before the gate opens is not announced")
  func detachedNotAnnounced() {
    var lease = lease()
    let t0: UInt64 = 1_000 * Self.ms
    _ = lease.attachElected(Self.uplink, now: t0)
    lease.detached(Self.uplink)
    _ = lease.tick(now: t0, standing: true)
    #expect(
      lease.confirmed(sentAt: t0, .held, now: t0)
        == [.openGates(deadline: t0 + 250 * Self.ms, announce: [])])
  }

  @Test("fenced: gates shut, step down after the guard, out of elections for the hold-down")
  func fencedStepsDown() {
    var lease = lease()
    let t0: UInt64 = 1_000 * Self.ms
    lease.session(connected: true)
    _ = lease.tick(now: t0, standing: true)
    _ = lease.confirmed(sentAt: t0, .held, now: t0)
    let t1 = t0 + 100 * Self.ms
    _ = lease.tick(now: t1, standing: true)
    #expect(
      lease.confirmed(sentAt: t1, .fenced, now: t1 + Self.ms) == [
        .stepDown(pause: .milliseconds(100))
      ])
    #expect(lease.gate(now: t1 + Self.ms) == PortGate.closed, "shut before the deadline")
    #expect(!lease.isServing(now: t1 + Self.ms))
    #expect(lease.isHeldDown)
    #expect(!lease.mayStand(now: t1 + 9_000 * Self.ms))
    #expect(!lease.mayTakeOver(now: t1 + 2_000 * Self.ms), "a fenced host fences no one")
    // The hold-down ends on the first tick past it.
    #expect(lease.tick(now: t1 + 9_999 * Self.ms, standing: false).isEmpty)
    #expect(lease.tick(now: t1 + Self.ms + 10_000 * Self.ms, standing: false) == [.standAgain])
    #expect(!lease.isHeldDown && lease.mayStand(now: t1 + 10_002 * Self.ms))
    #expect(lease.mayTakeOver(now: t1 + 10_002 * Self.ms))
  }

  @Test("a node gone or a failed read changes nothing: the gates lapse by themselves")
  func goneOrFailed() {
    var lease = lease()
    let t0: UInt64 = 1_000 * Self.ms
    _ = lease.tick(now: t0, standing: true)
    _ = lease.confirmed(sentAt: t0, .held, now: t0)
    for result in [GatewayLease.Confirmation.gone, .failed] {
      let t = t0 + 100 * Self.ms
      _ = lease.tick(now: t, standing: true)
      #expect(lease.confirmed(sentAt: t, result, now: t).isEmpty)
      #expect(lease.deadline == t0 + 250 * Self.ms)
      #expect(!lease.isHeldDown)
    }
    // And the next question may go (the failed one is no longer in flight).
    #expect(confirmation(lease.tick(now: t0 + 200 * Self.ms, standing: true)) != nil)
  }

  @Test("takeovers need a connected session and no stall in the last second")
  func takeoverGuards() {
    var lease = lease()
    let t0: UInt64 = 1_000 * Self.ms
    #expect(!lease.mayTakeOver(now: t0), "not connected yet")
    lease.session(connected: true)
    #expect(lease.mayTakeOver(now: t0))
    lease.stalled(now: t0)
    #expect(!lease.mayTakeOver(now: t0 + 999 * Self.ms))
    #expect(lease.mayTakeOver(now: t0 + 1_000 * Self.ms))
    lease.session(connected: false)
    #expect(!lease.mayTakeOver(now: t0 + 2_000 * Self.ms))
    #expect(lease.takeoverWait == .milliseconds(350))
  }

  @Test("without liveness the gates are always open, nothing is confirmed, no takeover")
  func disabled() {
    var lease = lease(enabled: false)
    lease.session(connected: true)
    #expect(lease.tick(now: 1, standing: true).isEmpty)
    #expect(lease.gate(now: 1) == PortGate.always)
    #expect(lease.isServing(now: 1))
    #expect(lease.attachElected(Self.uplink, now: 1) == (PortGate.always, true))
    #expect(!lease.mayTakeOver(now: 1))
  }

  @Test("candidates join 250 ms later per step of priority below the best, at most 4 s")
  func joinDelay() {
    #expect(GatewayLease.joinDelay(priority: 100, best: 100) == .zero)
    #expect(GatewayLease.joinDelay(priority: 99, best: 100) == .milliseconds(250))
    #expect(GatewayLease.joinDelay(priority: 90, best: 100) == .milliseconds(2_500))
    #expect(GatewayLease.joinDelay(priority: 0, best: 100) == .seconds(4))
    #expect(GatewayLease.joinDelay(priority: Int32.min, best: Int32.max) == .seconds(4))
    #expect(GatewayLease.joinDelay(priority: 5, best: 1) == .zero)
  }
}
