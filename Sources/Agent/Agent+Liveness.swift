import AgentCore
import Datapath
import Liveness
import Logging
import NSDB
import Topology

/// Liveness between hosts over the tunnels, and the lease that fences gateway ports.
///
/// A gateway port (a port several hosts can serve) is held by the winner of its
/// ZooKeeper election. Without more, a holder that is frozen or cut off keeps the port
/// until its session expires (2–10 s). Two mechanisms shorten that without ever letting
/// two hosts serve the port at once:
///
/// * **Liveness.** Every candidate host exchanges BFD-style hellos with the other hosts
///   of its tunnel zones over the tunnels (`LivenessMonitor`, every `livenessInterval`);
///   a host not heard from for `livenessMultiplier` intervals is down. Other hosts only
///   answer the hellos they get.
/// * **The lease.** A candidate confirms about three times per `gatewayLease` that its
///   `lease` node in ZooKeeper is still its own and unfenced (`HostLease`). A holder's
///   datapath carries the port only until the instant it sent its last good
///   confirmation plus one lease (`PortGate`, enforced in the packet threads), so a
///   holder that cannot confirm — frozen, cut off, fenced — goes silent by itself.
///
/// A follower that sees the port's holder down (while it still hears another host, so
/// it is not itself the one cut off) fences the holder's lease, waits one lease plus
/// `gatewayLeaseGuard`, and evicts the holder from the election; the election then
/// hands the port over. A fenced holder that is still alive learns it at its next
/// confirmation: it closes its gates, leaves its elections for `gatewayHoldDown`, and
/// renews its lease. docs/drills.md has the timeline of each case.
///
/// The rules (when to confirm, how far the gates open, hold-down, who may take over) are
/// the value types `GatewayLease` and `TakeoverPolicy` in AgentCore; this extension runs
/// their directives.
extension Agent {
  /// Now, on the liveness monitor's time line.
  var livenessNow: Duration { ContinuousClock.now - livenessOrigin }

  /// Starts the monitor and its ticker (called once the datapath runs).
  func startLiveness() {
    guard configuration.livenessEnabled else { return }
    liveness = LivenessMonitor(
      host: hostID,
      configuration: LivenessMonitor.Configuration(
        interval: .milliseconds(Int64(configuration.livenessInterval * 1000)),
        multiplier: configuration.livenessMultiplier),
      now: livenessNow)
    let events = events
    let pace = livenessPace
    // A quarter interval while there are sessions (hellos leave within their jitter); one
    // interval otherwise, enough to start answering a new peer in time, at a quarter of
    // the wake-ups on the many hosts that serve no gateway port.
    let busy = Duration.milliseconds(max(5, Int64(configuration.livenessInterval * 250)))
    let idle = Duration.milliseconds(max(5, Int64(configuration.livenessInterval * 1000)))
    tasks.append(
      Task {
        while !Task.isCancelled {
          try? await Task.sleep(for: pace.busy.load(ordering: .relaxed) ? busy : idle)
          events.yield(.livenessTick)
        }
      })
  }

  /// Tells the ticker whether there is anything to time.
  private func notePace(_ monitor: LivenessMonitor) {
    livenessPace.busy.store(
      monitor.sessionCount > 0 || !elections.isEmpty || gateway.isHeldDown, ordering: .relaxed)
  }

  /// The hosts to keep liveness sessions with: every other host of the tunnel zones, if
  /// this host is a candidate of any gateway port; none otherwise (it only answers).
  var livenessPeers: Set<ID> {
    guard !elections.isEmpty || gateway.isHeldDown else { return [] }
    return Set(endpoints.keys).subtracting([hostID])
  }

  func livenessTick() {
    guard var monitor = liveness else { return }
    let now = livenessNow
    var directives: [LivenessMonitor.Directive] = []
    let peers = livenessPeers
    if peers != livenessPeerSet {
      livenessPeerSet = peers
      directives += monitor.setPeers(peers, now: now)
    }
    monitor.setServing(servingGatewayPorts.sorted())
    directives += monitor.tick(now: now)
    liveness = monitor
    notePace(monitor)
    perform(directives)
    execute(
      gateway.tick(now: DatapathClock.now(), standing: hostLease != nil && !elections.isEmpty))
    considerTakeovers()
  }

  /// A hello from another host.
  func receiveHello(_ bytes: [UInt8]) {
    guard var monitor = liveness else { return }
    let hello: LivenessHello
    do {
      hello = try LivenessHello(decoding: bytes)
    } catch {
      metrics.livenessRejected.add(1, ordering: .relaxed)
      return
    }
    metrics.livenessReceived.add(1, ordering: .relaxed)
    let directives = monitor.received(hello, now: livenessNow)
    liveness = monitor
    notePace(monitor)
    perform(directives)
  }

  private func perform(_ directives: [LivenessMonitor.Directive]) {
    let stalled = directives.contains { if case .stalled = $0 { true } else { false } }
    for directive in directives {
      switch directive {
      case .send(let hello, let host):
        guard let remote = endpoints[host], let datapath else { continue }
        datapath.sendMessage(hello.encoded(), to: remote)
        metrics.livenessSent.add(1, ordering: .relaxed)
      case .peerUp(let host):
        livenessEverUp.insert(host)
        logger.info("host up (liveness)", metadata: ["agent.peer": "\(hostLabel(host))"])
      case .peerDown(let host):
        // A stall of our own resets every session: that says nothing about the peer.
        guard !stalled else { continue }
        metrics.livenessPeerDowns.add(1, ordering: .relaxed)
        logger.info("host down (liveness)", metadata: ["agent.peer": "\(hostLabel(host))"])
      case .stalled(let gap):
        gateway.stalled(now: DatapathClock.now())
        logger.info(
          "this agent did not run for \(gap.milliseconds) ms; liveness sessions restarted")
      }
    }
  }

  /// The gateway ports this host serves now: led, attached and inside the lease.
  var servingGatewayPorts: [ID] {
    guard gateway.isServing(now: DatapathClock.now()) else { return [] }
    return ledPorts.keys.filter { attached[$0] != nil }
  }

  // MARK: The lease

  /// Carries out the lease's directives (GatewayLease).
  func execute(_ directives: [GatewayLease.Directive]) {
    for directive in directives {
      switch directive {
      case .confirm(let sentAt):
        confirmLease(sentAt: sentAt)
      case .openGates(let deadline, let announce):
        guard let datapath else { continue }
        for (port, attachment) in attached where elections[port]?.leadership == .leader {
          datapath.setGate(port: attachment.number, deadline: deadline)
          if announce.contains(port) { self.announce(port, number: attachment.number) }
        }
      case .stepDown(let pause):
        stepDownFenced(pause: pause)
      case .standAgain:
        logger.info("gateway hold-down over; standing for election again")
        for port in snapshot.ports.values where port.candidate(for: hostID) != nil {
          updateElection(port.id)
        }
      }
    }
  }

  private func confirmLease(sentAt: UInt64) {
    guard let lease = hostLease else {
      execute(gateway.confirmed(sentAt: sentAt, .failed, now: DatapathClock.now()))
      return
    }
    let host = hostID
    let events = events
    Task {
      let result = try? await lease.confirm(host: host)
      events.yield(.leaseConfirmed(sentAt: sentAt, result))
    }
  }

  func applyLeaseConfirmation(sentAt: UInt64, _ result: HostLease.Confirmation?) {
    let confirmation: GatewayLease.Confirmation =
      switch result {
      case .held: .held
      case .fenced: .fenced
      case .gone: .gone
      case nil: .failed
      }
    execute(gateway.confirmed(sentAt: sentAt, confirmation, now: DatapathClock.now()))
  }

  /// Another host fenced this host's lease: stop serving every gateway port at once,
  /// leave the elections for the hold-down, then renew the lease.
  private func stepDownFenced(pause: Duration) {
    guard let lease = hostLease else { return }
    logger.info(
      "this host's gateway lease was fenced by another host; stepping down",
      metadata: ["agent.hold_down_s": "\(configuration.gatewayHoldDown)"])
    metrics.gatewayFenced.add(1, ordering: .relaxed)
    for (port, attachment) in attached where elections[port] != nil {
      datapath?.setGate(port: attachment.number, deadline: PortGate.closed)
    }
    let leaving = elections.values.map(\.election)
    for election in elections.values { election.task.cancel() }
    elections = [:]
    bindingsChanged = true
    reconcileBindings(force: true)
    let host = hostID
    Task {
      // The gates are shut: give frames in flight a moment before the next holder starts.
      try? await Task.sleep(for: pause)
      for election in leaving { await election.stepDown(rejoin: false) }
      try? await lease.renew(host: host)
    }
  }

  // MARK: Takeover

  /// For each gateway port this host stands by for: if its holder is down by liveness,
  /// fence it, wait out its lease, and evict it from the election.
  private func considerTakeovers() {
    guard let lease = hostLease, let monitor = liveness, let store,
      gateway.mayTakeOver(now: DatapathClock.now())
    else { return }
    let following = elections.filter { $0.value.leadership == .follower }.map(\.key)
    guard !following.isEmpty else { return }
    var holders: [ID: ID] = [:]
    for port in following { holders[port] = activations[port]?.host }
    let peers = livenessPeerSet
    let plan = TakeoverPolicy.takeovers(
      host: hostID, following: following, holders: holders, everUp: livenessEverUp,
      down: peers.union(holders.values).filter { monitor.state(of: $0) == .down },
      up: monitor.upPeers, peers: peers, underway: Set(takeovers.keys))
    for takeover in plan {
      let port = takeover.port
      let holder = takeover.holder
      let name = snapshot.ports[port]?.name ?? port.description
      logger.info(
        "gateway holder down (liveness): fencing and evicting it",
        metadata: ["agent.port": "\(name)", "agent.holder": "\(hostLabel(holder))"])
      let wait = gateway.takeoverWait
      let path = store.paths.election("port-\(port)")
      let events = events
      let logger = logger
      takeovers[port] = Task {
        do {
          if try await lease.fence(host: holder) {
            try await Task.sleep(for: wait)
            _ = try await lease.evict(host: holder, election: path, port: port)
          }
        } catch {
          logger.info("gateway takeover failed", metadata: ["agent.error": "\(error)"])
        }
        events.yield(.takeoverEnded(port: port))
      }
      metrics.gatewayTakeovers.add(1, ordering: .relaxed)
    }
  }

  func takeoverEnded(_ port: ID) {
    takeovers[port] = nil
  }
}
