import Datapath
import Simulation
import Topology

/// Which topology objects the agent observes, and for how long.
///
/// The agent starts from its host object and keeps for good ("pinned") what the host
/// names: its tunnel zones, the ports bound to it and the ports that list it as a
/// candidate. Everything else is observed on demand — a simulation asked for it, or an
/// object loaded needs it — and dropped once neither a flow nor a simulation used it for
/// `topologyIdleTimeout`. An object found missing is not asked for again for a second,
/// unless this host serves it. The actor keeps one observation task per object here; this
/// value decides when each starts and ends.
public struct TopologyInterests: Sendable {
  /// One observed object.
  public struct Interest: Hashable, Sendable {
    /// Kept for good: this host serves it.
    public var pinned: Bool
    /// Its first value (or its absence, or its corruption) has arrived.
    public var loaded = false
    /// Since when no flow and no simulation used it (nil: in use at the last sweep).
    public var idleSince: ContinuousClock.Instant?
  }

  public internal(set) var interests: [ObjectRef: Interest] = [:]
  /// Objects found missing, and until when they are not asked for again.
  public internal(set) var absentUntil: [ObjectRef: ContinuousClock.Instant] = [:]

  public init() {}

  /// Whether `ref` is observed.
  public func contains(_ ref: ObjectRef) -> Bool { interests[ref] != nil }
}

extension AgentCore {
  /// Asks for `ref` to be observed. Returns true when the actor must start observing it
  /// (it was not observed, and it is not in its one-second back-off after being found
  /// missing, unless pinned).
  public mutating func want(_ ref: ObjectRef, pinned: Bool = false, now: ContinuousClock.Instant)
    -> Bool
  {
    if var interest = interests.interests[ref] {
      if pinned && !interest.pinned {
        interest.pinned = true
        interests.interests[ref] = interest
      }
      return false
    }
    if !pinned, let until = interests.absentUntil[ref], now < until { return false }
    interests.interests[ref] = TopologyInterests.Interest(pinned: pinned)
    return true
  }

  /// The objects this host serves, from its host object, become pinned; objects no longer
  /// among them become ordinary cached ones. Returns the objects to start observing.
  public mutating func updatePinned(now: ContinuousClock.Instant) -> [ObjectRef] {
    var roots: Set<ObjectRef> = [ObjectRef(.host, hostID)]
    if let host = snapshot.hosts[hostID] {
      roots.formUnion(host.tunnelZoneIds.map { ObjectRef(.tunnelZone, $0) })
      roots.formUnion(host.portIds.map { ObjectRef(.port, $0) })
      roots.formUnion(host.candidatePortIds.map { ObjectRef(.port, $0) })
    }
    let start = roots.sorted().filter { want($0, pinned: true, now: now) }
    for (ref, interest) in interests.interests where interest.pinned && !roots.contains(ref) {
      interests.interests[ref]?.pinned = false
      interests.interests[ref]?.idleSince = now
    }
    return start
  }

  /// An observed object's value (or corruption) arrived. False when it is no longer
  /// observed: an object dropped while its update was on the way is not brought back.
  public mutating func noteLoaded(_ ref: ObjectRef) -> Bool {
    guard interests.interests[ref] != nil else { return false }
    interests.interests[ref]?.loaded = true
    return true
  }

  /// An observed object is gone from the NSDB: no longer observed, and not asked for
  /// again for a second. (The actor then removes it from the snapshot with
  /// `applyTopology`, which also drops its watches.)
  public mutating func noteAbsent(_ ref: ObjectRef, now: ContinuousClock.Instant) {
    interests.interests[ref] = nil
    interests.absentUntil[ref] = now + .seconds(1)
  }

  /// Whether this host's object and every object it serves have arrived.
  public var pinnedObjectsLoaded: Bool {
    snapshot.hosts[hostID] != nil
      && interests.interests.values.allSatisfy { !$0.pinned || $0.loaded }
  }

  /// The idle sweep, given the tags of the flows installed now: objects not pinned whose
  /// change would invalidate none of those flows, and that no simulation without a flow
  /// used since the last sweep, are dropped once idle for `idle`. Returns the dropped
  /// objects: the actor ends their observation and removes them from the snapshot with
  /// `applyTopology`.
  public mutating func sweepTopology(
    flowTags: Set<FlowTagHash>, idle: Duration, now: ContinuousClock.Instant
  ) -> [ObjectRef] {
    var live = takeUsedTagsSinceSweep()
    live.formUnion(flowTags)
    interests.absentUntil = interests.absentUntil.filter { $0.value > now }
    var evicted: [ObjectRef] = []
    for (ref, interest) in interests.interests where !interest.pinned && interest.loaded {
      let object = snapshot.object(ref.type, ref.id)
      let tags = object.map { FlowTagHasher.hash(Invalidation.tags(of: $0)) } ?? []
      if tags.contains(where: live.contains) {
        interests.interests[ref]?.idleSince = nil
      } else if let since = interest.idleSince {
        if now - since >= idle { evicted.append(ref) }
      } else {
        interests.interests[ref]?.idleSince = now
      }
    }
    for ref in evicted { interests.interests[ref] = nil }
    return evicted.sorted()
  }
}
