import Topology

extension LivenessMonitor {
  /// A gap between calls longer than this means this host was not running.
  public var stallThreshold: Duration {
    max(configuration.interval * 2, configuration.interval + .milliseconds(50))
  }

  /// Sends due hellos, declares silent peers down and forgets silent passive sessions.
  /// Call it by `nextDeadline` at the latest (calling it earlier or more often is harmless).
  public mutating func tick(now: Duration) -> [Directive] {
    var (now, directives) = advance(to: now)
    var forgetting = false
    for position in sessions.indices {
      if sessions[position].state != .down, let heard = sessions[position].lastHeard,
        now - heard >= detectionTime(position)
      {
        if sessions[position].state == .up {
          directives.append(.peerDown(sessions[position].peer))
        }
        sessions[position].state = .down
        sessions[position].remoteDiscriminator = 0
        sessions[position].serving = []
        // Tell the peer at once (it may hear us even though we no longer hear it).
        sessions[position].nextSend = now
      }
      if !sessions[position].active, let heard = sessions[position].lastHeard,
        now - heard >= passiveTimeout(position)
      {
        forgetting = true
        continue
      }
      guard sessions[position].nextSend <= now else { continue }
      if sends(position, now: now) {
        directives.append(hello(position, now: now))
      } else {
        sessions[position].nextSend = now + jitteredInterval()
      }
    }
    if forgetting {
      let configuration = configuration
      compact { session in
        guard !session.active, let heard = session.lastHeard else { return true }
        let detection = session.detectionTime(
          ourInterval: configuration.interval, ourMultiplier: configuration.multiplier)
        return now - heard < detection * configuration.passiveTimeoutMultiplier
      }
    }
    return directives
  }

  /// When `tick` must be called next at the latest: the earliest hello due, detection
  /// deadline or passive expiry. `nil` when there are no sessions. Never more than one
  /// interval after the last call while sessions exist, which is what lets the monitor
  /// tell its own stalls from a slow peer.
  public var nextDeadline: Duration? {
    var earliest: Duration?
    for position in sessions.indices {
      let session = sessions[position]
      var deadline = session.nextSend
      if let heard = session.lastHeard {
        if session.state != .down { deadline = min(deadline, heard + detectionTime(position)) }
        if !session.active { deadline = min(deadline, heard + passiveTimeout(position)) }
      }
      earliest = min(earliest ?? deadline, deadline)
    }
    return earliest
  }

  /// Moves the monitor's clock to `now` (never backwards: an earlier `now` is taken as the
  /// previous one) and handles a stall if the gap since the previous call shows one.
  /// Returns the effective time and the stall's directives (`.stalled` first).
  mutating func advance(to time: Duration) -> (Duration, [Directive]) {
    let now = max(time, lastCall)
    let gap = now - lastCall
    lastCall = now
    guard gap > stallThreshold, !sessions.isEmpty else { return (now, []) }
    stalls += 1
    discriminator = newDiscriminator()
    var directives: [Directive] = [.stalled(gap)]
    for position in sessions.indices {
      if sessions[position].state == .up {
        directives.append(.peerDown(sessions[position].peer))
      }
      sessions[position].state = .down
      sessions[position].remoteDiscriminator = 0
      sessions[position].serving = []
      if sessions[position].lastHeard != nil { sessions[position].lastHeard = now }
      directives.append(hello(position, now: now))
    }
    return (now, directives)
  }
}
