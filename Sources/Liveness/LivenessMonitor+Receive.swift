import Topology

extension LivenessMonitor {
  /// Sets the hosts we keep active sessions with. New ones get a hello at once; hosts no
  /// longer named are demoted to passive sessions (kept, and reported, while they talk), or
  /// dropped if they never said anything.
  public mutating func setPeers(_ peers: Set<ID>, now: Duration) -> [Directive] {
    var (now, directives) = advance(to: now)
    var demotedSilent = false
    for position in sessions.indices {
      let active = peers.contains(sessions[position].peer)
      if !active && sessions[position].lastHeard == nil { demotedSilent = true }
      sessions[position].active = active
    }
    if demotedSilent { compact { $0.active || $0.lastHeard != nil } }
    for peer in peers.filter({ index[$0] == nil && $0 != host }).sorted() {
      let position = insert(Session(peer: peer, active: true, nextSend: now))
      directives.append(hello(position, now: now))
    }
    return directives
  }

  /// Sets the gateway ports we report serving; duplicates are dropped and at most
  /// `LivenessHello.maxServing` are kept. Carried by our next hellos (within one interval).
  public mutating func setServing(_ ports: [ID]) {
    var seen = Set<ID>(minimumCapacity: ports.count)
    servingPorts = []
    for port in ports where servingPorts.count < LivenessHello.maxServing {
      if seen.insert(port).inserted { servingPorts.append(port) }
    }
  }

  /// Takes a hello a peer sent us: runs the handshake, answers at once on a state change.
  public mutating func received(_ hello: LivenessHello, now: Duration) -> [Directive] {
    var (now, directives) = advance(to: now)
    guard accepts(hello) else {
      ignored += 1
      return directives
    }
    let position: Int
    if let existing = index[hello.sender] {
      position = existing
    } else {
      guard passiveCount < configuration.maxPassiveSessions else {
        ignored += 1
        return directives
      }
      position = insert(
        Session(peer: hello.sender, active: false, nextSend: now + jitteredInterval()))
    }
    sessions[position].remoteDiscriminator = hello.myDiscriminator
    sessions[position].remoteInterval = hello.interval
    sessions[position].remoteMultiplier = Int(hello.multiplier)
    sessions[position].lastHeard = now
    sessions[position].serving = hello.serving

    let old = sessions[position].state
    let new = Self.transition(from: old, remote: hello.state)
    guard new != old else { return directives }
    sessions[position].state = new
    if old == .up { directives.append(.peerDown(hello.sender)) }
    if new == .up { directives.append(.peerUp(hello.sender)) }
    directives.append(self.hello(position, now: now))
    return directives
  }

  /// RFC 5880 §6.8.6, without AdminDown on our side.
  static func transition(from local: PeerState, remote: LivenessHello.State) -> PeerState {
    switch (local, remote) {
    case (.down, .down): .initializing
    case (.down, .initializing), (.initializing, .initializing), (.initializing, .up): .up
    case (.up, .down), (.up, .adminDown), (.initializing, .adminDown): .down
    default: local
    }
  }

  /// Whether a hello is for this host and this incarnation of our sessions.
  func accepts(_ hello: LivenessHello) -> Bool {
    guard hello.sender != host, hello.sender != .zero else { return false }
    guard hello.receiver == .zero || hello.receiver == host else { return false }
    guard hello.yourDiscriminator == 0 || hello.yourDiscriminator == discriminator else {
      return false
    }
    do { try hello.validate() } catch { return false }
    return true
  }

  /// How many passive sessions exist (O(sessions); only paid for unknown senders).
  var passiveCount: Int { sessions.reduce(0) { $0 + ($1.active ? 0 : 1) } }
}
