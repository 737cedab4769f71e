import Liveness
import Testing
import Topology

/// A host that was not running (SIGSTOP, paused VM) must not blame its peers for its own
/// silence: it reports `.stalled` first, resets its sessions and re-handshakes.
@Suite struct LivenessStallTests {
  let a = host("a")
  let b = host("b")

  @Test func stallIsReportedFirstAndSessionsReestablish() {
    var network = Network()
    network.add(a)
    network.add(b)
    network.setPeers(a, [b])
    network.setPeers(b, [a])
    network.run(until: network.now + .seconds(1))
    let oldDiscriminator = network.monitors[a]!.discriminator

    let frozenAt = network.now
    network.frozen = [a]
    network.run(until: frozenAt + .milliseconds(1500))
    // B rightly declares A down: A really was silent.
    let bDown = network.first(.peerDown(a), by: b, from: frozenAt)!
    #expect(bDown - network.lastDelivered[b]! == .milliseconds(300))
    #expect(network.entries(of: a, from: frozenAt).isEmpty)

    let thawedAt = network.now
    network.frozen = []
    network.run(until: thawedAt + .milliseconds(300))
    let afterA = network.entries(of: a, from: thawedAt).map(\.directive)
    // Exactly the documented batch: stalled, peerDown for the Up session, a fresh hello.
    guard case .stalled(let gap) = afterA.first else {
      Issue.record("first directive after the stall is \(String(describing: afterA.first))")
      return
    }
    #expect(gap >= .milliseconds(1500) && gap <= .milliseconds(1600))
    #expect(afterA.dropFirst().first == .peerDown(b))
    let reset = afterA.dropFirst(2).first?.hello
    #expect(reset?.state == .down && reset?.yourDiscriminator == 0)
    #expect(reset?.myDiscriminator != oldDiscriminator)
    #expect(network.monitors[a]!.discriminator != oldDiscriminator)
    #expect(network.monitors[a]!.stalls == 1)
    // No other peerDown from A: the stall itself never timed B out.
    #expect(network.count(.peerDown(b), by: a, from: frozenAt) == 1)
    // Both come back Up within a few intervals.
    #expect(network.monitors[a]!.state(of: b) == .up)
    #expect(network.monitors[b]!.state(of: a) == .up)
    let upAgain = network.first(.peerUp(b), by: a, from: thawedAt)!
    #expect(upAgain - thawedAt <= .milliseconds(200))
    #expect(network.count(.stalled(gap), by: b, from: frozenAt) == 0)
  }

  @Test func stallSeenByReceivedComesFirstToo() throws {
    let start = Duration.seconds(10)
    var monitorA = LivenessMonitor(host: a, now: start)
    var monitorB = LivenessMonitor(host: b, now: start)
    // Hand-run handshake.
    let down = try #require(monitorA.setPeers([b], now: start).first?.hello)
    let initializing = try #require(monitorB.received(down, now: start).first?.hello)
    let up = try #require(monitorA.received(initializing, now: start).last?.hello)
    _ = monitorB.received(up, now: start)
    #expect(monitorA.state(of: b) == .up)

    // A is not called for a second; then a (stale) hello from B arrives first.
    var stale = up
    stale.sender = b
    stale.receiver = a
    stale.myDiscriminator = monitorB.discriminator
    stale.yourDiscriminator = monitorA.discriminator
    let directives = monitorA.received(stale, now: start + .seconds(1))
    #expect(directives.first == .stalled(.seconds(1)))
    #expect(directives.dropFirst().first == .peerDown(b))
    #expect(directives.count == 3)
    // The hello named A's old discriminator: ignored after the restart.
    #expect(monitorA.ignored == 1)
    #expect(monitorA.state(of: b) == .down)
    #expect(monitorA.lastHeard(from: b) == start + .seconds(1))
  }

  @Test func gapsUnderTheThresholdAreNotStalls() {
    let start = Duration.seconds(1)
    var monitor = LivenessMonitor(host: a, now: start)
    _ = monitor.setPeers([b], now: start)
    #expect(monitor.stallThreshold == .milliseconds(200))
    #expect(!monitor.tick(now: start + .milliseconds(200)).contains(.stalled(.milliseconds(200))))
    #expect(monitor.tick(now: start + .milliseconds(401)).first == .stalled(.milliseconds(201)))
    let slow = LivenessMonitor(
      host: a, configuration: .init(interval: .milliseconds(20)), now: start)
    #expect(slow.stallThreshold == .milliseconds(70))
  }

  @Test func noSessionsNoStall() {
    let start = Duration.seconds(1)
    var monitor = LivenessMonitor(host: a, now: start)
    #expect(monitor.tick(now: start + .seconds(60)).isEmpty)
    #expect(monitor.stalls == 0)
  }

  @Test func timeGoingBackwardsIsHarmless() {
    let start = Duration.seconds(1)
    var monitor = LivenessMonitor(host: a, now: start)
    _ = monitor.setPeers([b], now: start)
    _ = monitor.tick(now: start + .milliseconds(50))
    let directives = monitor.tick(now: start - .seconds(5))
    #expect(!directives.contains { if case .stalled = $0 { true } else { false } })
    #expect(monitor.tick(now: start + .milliseconds(100)).allSatisfy { $0.hello != nil })
    #expect(monitor.stalls == 0)
  }

  @Test func configurationIsClamped() {
    let monitor = LivenessMonitor(
      host: a,
      configuration: .init(
        interval: .microseconds(100), multiplier: 0, passiveTimeoutMultiplier: -1,
        maxPassiveSessions: -5),
      now: .zero)
    #expect(monitor.configuration.interval == .milliseconds(1))
    #expect(monitor.configuration.multiplier == 1)
    #expect(monitor.configuration.passiveTimeoutMultiplier == 1)
    #expect(monitor.configuration.maxPassiveSessions == 0)
    let huge = LivenessMonitor(
      host: a, configuration: .init(interval: .seconds(100), multiplier: 1000), now: .zero)
    #expect(huge.configuration.interval == .milliseconds(65535))
    #expect(huge.configuration.multiplier == 255)
  }
}
