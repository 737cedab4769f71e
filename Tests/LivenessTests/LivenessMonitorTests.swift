import Liveness
import Testing
import Topology

/// The session state machine, timers and bookkeeping, driven through a simulated network.
@Suite struct LivenessMonitorTests {
  let a = host("a")
  let b = host("b")

  /// Two hosts that name each other as peers, started at the network's time.
  func pair(_ configurationB: LivenessMonitor.Configuration = .init()) -> Network {
    var network = Network()
    network.add(a)
    network.add(b, configuration: configurationB)
    network.setPeers(a, [b])
    network.setPeers(b, [a])
    return network
  }

  @Test func handshakeReachesUpWithinThreeIntervals() {
    var network = pair()
    let start = network.now
    network.run(until: start + .milliseconds(300))
    for (me, peer) in [(a, b), (b, a)] {
      #expect(network.monitors[me]!.state(of: peer) == .up)
      #expect(network.monitors[me]!.upPeers == [peer])
      let upAt = network.first(.peerUp(peer), by: me, from: start)
      #expect(upAt != nil && upAt! <= start + .milliseconds(300))
    }
    #expect(network.decodeFailures == 0)
    #expect(network.monitors[a]!.ignored == 0 && network.monitors[b]!.ignored == 0)
  }

  @Test func threeWayHandshakeByHand() throws {
    let start = Duration.seconds(5)
    var monitorA = LivenessMonitor(host: a, now: start)
    var monitorB = LivenessMonitor(host: b, now: start)
    let fromA = monitorA.setPeers([b], now: start)
    #expect(fromA.count == 1)
    let down = try #require(fromA.first?.hello)
    #expect(down.state == .down && down.yourDiscriminator == 0 && down.receiver == b)
    #expect(down.myDiscriminator == monitorA.discriminator)

    // B has no peers: A's hello makes a passive session, Init, answered at once.
    let fromB = monitorB.received(down, now: start + .milliseconds(1))
    let initializing = try #require(fromB.first?.hello)
    #expect(fromB.count == 1)
    #expect(initializing.state == .initializing)
    #expect(initializing.yourDiscriminator == monitorA.discriminator)
    #expect(monitorB.state(of: a) == .initializing)
    #expect(monitorB.peers.isEmpty && monitorB.sessionCount == 1)

    // A goes Up on Init and tells B at once; B goes Up on that.
    let upA = monitorA.received(initializing, now: start + .milliseconds(2))
    #expect(upA.first == .peerUp(b))
    #expect(upA.count == 2 && upA[1].hello?.state == .up)
    let upB = monitorB.received(upA[1].hello!, now: start + .milliseconds(3))
    #expect(upB.first == .peerUp(a))
    #expect(monitorA.state(of: b) == .up && monitorB.state(of: a) == .up)

    // Steady state: an Up hello to an Up session changes nothing and sends nothing extra.
    #expect(monitorA.received(upB[1].hello!, now: start + .milliseconds(4)).isEmpty)
    #expect(monitorA.lastHeard(from: b) == start + .milliseconds(4))
  }

  @Test func droppedLinkGivesPeerDownAfterDetectionTimeOnBothSides() {
    var network = pair()
    network.run(until: network.now + .seconds(1))
    let cutAt = network.now
    network.cut = true
    network.run(until: cutAt + .seconds(1))
    for (me, peer) in [(a, b), (b, a)] {
      let last = network.lastDelivered[me]!
      let downAt = network.first(.peerDown(peer), by: me, from: cutAt)
      #expect(downAt != nil)
      if let downAt {
        #expect(downAt - last >= .milliseconds(300))
        #expect(downAt - last <= .milliseconds(400))
      }
      #expect(network.count(.peerDown(peer), by: me, from: cutAt) == 1)
      #expect(network.monitors[me]!.state(of: peer) == .down)
      #expect(network.monitors[me]!.upPeers.isEmpty)
    }
  }

  @Test func trafficResumingBringsUpAgain() {
    var network = pair()
    network.run(until: network.now + .seconds(1))
    network.cut = true
    network.run(until: network.now + .seconds(1))
    let healedAt = network.now
    network.cut = false
    network.run(until: healedAt + .milliseconds(300))
    for (me, peer) in [(a, b), (b, a)] {
      #expect(network.monitors[me]!.state(of: peer) == .up)
      let upAt = network.first(.peerUp(peer), by: me, from: healedAt)
      #expect(upAt != nil && upAt! <= healedAt + .milliseconds(250))
    }
  }

  @Test func detectionUsesTheSlowerInterval() {
    var network = pair(.init(interval: .milliseconds(200)))
    network.run(until: network.now + .seconds(2))
    #expect(network.monitors[a]!.state(of: b) == .up)
    let cutAt = network.now
    network.cut = true
    network.run(until: cutAt + .seconds(2))
    // Both see 3 x max(100, 200) = 600 ms.
    for (me, peer) in [(a, b), (b, a)] {
      let downAt = network.first(.peerDown(peer), by: me, from: cutAt)!
      #expect(downAt - network.lastDelivered[me]! == .milliseconds(600))
    }
  }

  @Test func hellosAreJitteredBetween75And100PercentAndReproducible() {
    func sendTimes() -> [Duration] {
      var network = Network()
      network.add(a)
      network.add(b)
      network.frozen = [b]  // silent peer: A keeps sending on its timer alone
      network.setPeers(a, [b])
      network.run(until: network.now + .seconds(5))
      return network.log.filter { $0.host == a && $0.directive.hello != nil }.map(\.time)
    }
    let times = sendTimes()
    #expect(times.count >= 50 && times.count <= 67)
    let gaps = zip(times.dropFirst(), times).map { $0 - $1 }
    #expect(gaps.allSatisfy { $0 >= .milliseconds(75) && $0 <= .milliseconds(100) })
    #expect(Set(gaps).count > 10)
    #expect(sendTimes() == times)
  }

  @Test func nextDeadlineNeverMoreThanOneIntervalAway() {
    let start = Duration.seconds(1)
    var monitor = LivenessMonitor(host: a, now: start)
    #expect(monitor.nextDeadline == nil)
    _ = monitor.setPeers([b, host("c")], now: start)
    var now = start
    for _ in 0..<100 {
      let deadline = monitor.nextDeadline!
      #expect(deadline > now && deadline <= now + .milliseconds(100))
      now = deadline
      #expect(!monitor.tick(now: now).contains { if case .stalled = $0 { true } else { false } })
    }
  }

  @Test func servingListsTravel() {
    var network = pair()
    network.monitors[a]!.setServing([port("1"), port("2"), port("1")])
    #expect(network.monitors[a]!.serving == [port("1"), port("2")])
    network.run(until: network.now + .milliseconds(300))
    #expect(network.monitors[b]!.serving(of: a) == [port("1"), port("2")])
    #expect(network.monitors[a]!.serving(of: b) == [])
    network.monitors[a]!.setServing([port("3")])
    network.run(until: network.now + .milliseconds(110))
    #expect(network.monitors[b]!.serving(of: a) == [port("3")])
    // Never more than 64, and a Down peer serves nothing.
    network.monitors[a]!.setServing((0..<100).map { port("\($0)") })
    #expect(network.monitors[a]!.serving.count == LivenessHello.maxServing)
    network.cut = true
    network.run(until: network.now + .seconds(1))
    #expect(network.monitors[b]!.serving(of: a) == [])
  }

  @Test func ignoredHellosAreCounted() {
    let start = Duration.seconds(1)
    var monitor = LivenessMonitor(host: a, now: start)
    let good = LivenessHello(
      sender: b, receiver: a, myDiscriminator: 7, state: .down, interval: .milliseconds(100),
      multiplier: 3)
    var toOther = good
    toOther.receiver = host("c")
    var fromSelf = good
    fromSelf.sender = a
    var wrongDiscriminator = good
    wrongDiscriminator.yourDiscriminator = monitor.discriminator &+ 1
    var fromNobody = good
    fromNobody.sender = .zero
    var invalid = good
    invalid.multiplier = 0
    for (offset, hello) in [toOther, fromSelf, wrongDiscriminator, fromNobody, invalid].enumerated()
    {
      #expect(monitor.received(hello, now: start + .milliseconds(offset)).isEmpty)
      #expect(monitor.ignored == offset + 1)
    }
    #expect(monitor.sessionCount == 0)
    // Receiver unknown (zero) and our discriminator named: both accepted.
    var anonymous = good
    anonymous.receiver = .zero
    #expect(!monitor.received(anonymous, now: start + .milliseconds(10)).isEmpty)
    var named = good
    named.yourDiscriminator = monitor.discriminator
    _ = monitor.received(named, now: start + .milliseconds(11))
    #expect(monitor.ignored == 5)
    #expect(monitor.state(of: b) == .initializing)
  }

  @Test func passiveSessionIsAnsweredThenForgottenAfterSilence() {
    var network = Network()
    network.add(a)
    network.add(b)
    network.setPeers(b, [a])  // A names nobody: B's session on A is passive
    let start = network.now
    network.run(until: start + .milliseconds(300))
    #expect(network.monitors[a]!.state(of: b) == .up)
    #expect(network.monitors[a]!.peers.isEmpty)
    #expect(network.monitors[b]!.state(of: a) == .up)

    network.frozen = [b]  // B dies
    let silentFrom = network.now
    network.run(until: silentFrom + .seconds(5))
    let last = network.lastDelivered[a]!
    let downAt = network.first(.peerDown(b), by: a, from: silentFrom)!
    #expect(downAt - last == .milliseconds(300))
    // A stops answering once B is silent for a detection time...
    let lateSends = network.log.filter {
      $0.host == a && $0.time > downAt && $0.directive.hello != nil
    }
    #expect(lateSends.isEmpty)
    // ...and forgets it after 10 detection times.
    #expect(network.monitors[a]!.sessionCount == 0)
    #expect(network.monitors[a]!.lastHeard(from: b) == nil)
    #expect(network.monitors[a]!.nextDeadline == nil)
  }

  @Test func passiveSessionIsKeptUntilItsTimeout() {
    let start = Duration.seconds(1)
    var monitor = LivenessMonitor(host: a, now: start)
    let hello = LivenessHello(
      sender: b, receiver: a, myDiscriminator: 9, state: .down, interval: .milliseconds(100),
      multiplier: 3)
    _ = monitor.received(hello, now: start)
    var now = start
    for _ in 0..<100 {
      guard let deadline = monitor.nextDeadline else { break }
      #expect(deadline <= now + .milliseconds(100))
      now = deadline
      _ = monitor.tick(now: now)
      if now < start + .seconds(3) { #expect(monitor.sessionCount == 1) }
    }
    #expect(monitor.sessionCount == 0)
    #expect(now == start + .seconds(3))
  }

  @Test func removedPeersBecomePassiveOrGo() {
    var network = pair()
    network.run(until: network.now + .milliseconds(300))
    let c = host("c")
    network.setPeers(a, [c])
    #expect(network.monitors[a]!.peers == [c])
    // B still talks to A, so A keeps answering: no flap on either side.
    network.run(until: network.now + .seconds(1))
    #expect(network.monitors[a]!.state(of: b) == .up)
    #expect(network.monitors[b]!.state(of: a) == .up)
    // C never said anything: dropping it drops its session.
    network.setPeers(a, [])
    #expect(network.monitors[a]!.sessionCount == 1)
  }

  @Test func passiveSessionsAreBounded() {
    let start = Duration.seconds(1)
    var monitor = LivenessMonitor(
      host: a, configuration: .init(maxPassiveSessions: 2), now: start)
    for index in 0..<4 {
      let hello = LivenessHello(
        sender: host("p\(index)"), receiver: a, myDiscriminator: 5, state: .down,
        interval: .milliseconds(100), multiplier: 3)
      _ = monitor.received(hello, now: start)
    }
    #expect(monitor.sessionCount == 2)
    #expect(monitor.ignored == 2)
    // Active sessions do not count against the bound.
    _ = monitor.setPeers([b], now: start)
    #expect(monitor.sessionCount == 3)
  }

  @Test func peerSayingDownOrAdminDownTakesAnUpSessionDown() throws {
    let start = Duration.seconds(1)
    for remote in [LivenessHello.State.down, .adminDown] {
      var monitor = LivenessMonitor(host: a, now: start)
      _ = monitor.setPeers([b], now: start)
      var hello = LivenessHello(
        sender: b, receiver: a, myDiscriminator: 5, state: .initializing,
        interval: .milliseconds(100), multiplier: 3)
      #expect(monitor.received(hello, now: start).first == .peerUp(b))
      hello.state = remote
      hello.yourDiscriminator = monitor.discriminator
      let directives = monitor.received(hello, now: start + .milliseconds(10))
      #expect(directives.first == .peerDown(b))
      #expect(directives.last?.hello?.state == .down)
      #expect(monitor.state(of: b) == .down)
      // AdminDown never starts a handshake; Down does.
      _ = monitor.received(hello, now: start + .milliseconds(20))
      #expect(monitor.state(of: b) == (remote == .down ? .initializing : .down))
    }
  }
}
