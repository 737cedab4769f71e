import Topology

/// Which gateway ports this host should take over now, and from whom.
///
/// A standby takes a port over only when all of these hold: it follows the port's
/// election, another host holds the port (its `active` node names it), liveness saw
/// that holder up once and sees it down now, no takeover of the port is under way, and
/// this host is not the one cut off — some other peer still answers (unless the holder
/// is its only peer). The actor then fences the holder's lease, waits the lease out and
/// evicts it from the election. Pure, so the rule is tested without a cluster.
public enum TakeoverPolicy {
  /// One takeover to start.
  public struct Takeover: Hashable, Sendable {
    public var port: ID
    public var holder: ID

    public init(port: ID, holder: ID) {
      self.port = port
      self.holder = holder
    }
  }

  /// The takeovers to start.
  /// - Parameters:
  ///   - following: the ports whose election this host follows (a standby).
  ///   - holders: who serves each port now (from its `active` node).
  ///   - everUp: peers liveness has seen up at least once.
  ///   - down: peers liveness sees down now.
  ///   - up: peers liveness sees up now.
  ///   - peers: every peer liveness follows.
  ///   - underway: ports with a takeover in progress.
  public static func takeovers(
    host: ID, following: [ID], holders: [ID: ID], everUp: Set<ID>, down: Set<ID>,
    up: Set<ID>, peers: Set<ID>, underway: Set<ID>
  ) -> [Takeover] {
    var result: [Takeover] = []
    for port in following.sorted() where !underway.contains(port) {
      guard let holder = holders[port], holder != host, everUp.contains(holder),
        down.contains(holder)
      else { continue }
      let witnesses = peers.subtracting([holder])
      guard witnesses.isEmpty || !up.subtracting([holder]).isEmpty else { continue }
      result.append(Takeover(port: port, holder: holder))
    }
    return result
  }
}
