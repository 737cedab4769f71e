import Topology

extension LivenessMonitor {
  /// One peer's session: our state, what the peer last told us, and our send timer.
  struct Session: Sendable {
    let peer: ID
    /// Named by `setPeers`: we send even while the peer is silent.
    var active: Bool
    var state: PeerState = .down
    /// The peer's discriminator, 0 when unknown (never heard, or timed out).
    var remoteDiscriminator: UInt32 = 0
    var remoteInterval: Duration = .zero
    var remoteMultiplier: Int = 0
    var lastHeard: Duration?
    var serving: [ID] = []
    /// When the next periodic hello is due.
    var nextSend: Duration

    /// How long the peer may be silent before we declare it down: its multiplier times the
    /// slower of its interval and ours (ours alone before we have heard it).
    func detectionTime(ourInterval: Duration, ourMultiplier: Int) -> Duration {
      guard remoteMultiplier > 0 else { return ourInterval * ourMultiplier }
      return max(remoteInterval, ourInterval) * remoteMultiplier
    }

    /// The wire state for our state.
    var wireState: LivenessHello.State {
      switch state {
      case .down: .down
      case .initializing: .initializing
      case .up: .up
      }
    }
  }

  /// The detection time of the session at `position`.
  func detectionTime(_ position: Int) -> Duration {
    sessions[position].detectionTime(
      ourInterval: configuration.interval, ourMultiplier: configuration.multiplier)
  }

  /// How long a silent passive session at `position` is kept.
  func passiveTimeout(_ position: Int) -> Duration {
    detectionTime(position) * configuration.passiveTimeoutMultiplier
  }

  /// Whether the session at `position` sends periodic hellos at `now`: always when active;
  /// when passive, only while the peer has talked within a detection time.
  func sends(_ position: Int, now: Duration) -> Bool {
    let session = sessions[position]
    if session.active { return true }
    guard let heard = session.lastHeard else { return false }
    return now - heard < detectionTime(position)
  }

  /// A jittered delay before the next periodic hello: 75-100 % of the interval.
  mutating func jitteredInterval() -> Duration {
    let nanoseconds = UInt64(configuration.interval / .nanoseconds(1))
    let quarter = nanoseconds / 4
    return .nanoseconds(Int64(nanoseconds - quarter + random.next() % (quarter + 1)))
  }

  /// Sends our hello to the session at `position` now and restarts its periodic timer.
  mutating func hello(_ position: Int, now: Duration) -> Directive {
    sessions[position].nextSend = now + jitteredInterval()
    let session = sessions[position]
    let message = LivenessHello(
      sender: host, receiver: session.peer, myDiscriminator: discriminator,
      yourDiscriminator: session.remoteDiscriminator, state: session.wireState,
      interval: configuration.interval, multiplier: UInt8(configuration.multiplier),
      serving: servingPorts)
    return .send(message, to: session.peer)
  }

  /// Appends a session and indexes it.
  mutating func insert(_ session: Session) -> Int {
    sessions.append(session)
    index[session.peer] = sessions.count - 1
    return sessions.count - 1
  }

  /// Drops the sessions `keep` refuses and rebuilds the index (O(sessions)); the order of
  /// the rest is unchanged.
  mutating func compact(keeping keep: (Session) -> Bool) {
    sessions.removeAll { !keep($0) }
    index.removeAll(keepingCapacity: true)
    for (position, session) in sessions.enumerated() { index[session.peer] = position }
  }
}
