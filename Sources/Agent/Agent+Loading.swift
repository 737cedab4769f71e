import AgentCore
import Datapath
import Foundation
import NSDB
import Simulation
import Topology

/// The topology cache: objects are observed one by one, the ones this host serves for
/// good, the others on demand and dropped after going unused (see "Topology" in the
/// design notes of Agent.swift).
extension Agent {
  /// One object the agent observes.
  struct Interest {
    var task: Task<Void, Never>
    /// Kept for good: this host, its tunnel zones, the ports bound to it or that list it
    /// as a candidate.
    var pinned: Bool
    /// Its first value has arrived.
    var loaded = false
    /// Since when no flow and no simulation used it (nil: in use at the last sweep).
    var idleSince: ContinuousClock.Instant?
  }

  /// Starts observing `ref` unless it is observed already. An object found missing is
  /// not asked for again for a second, unless it is one this host serves.
  func want(_ ref: ObjectRef, pinned: Bool = false) {
    if var interest = interests[ref] {
      if pinned && !interest.pinned {
        interest.pinned = true
        interests[ref] = interest
      }
      return
    }
    if !pinned, let until = absentUntil[ref], ContinuousClock.now < until { return }
    interests[ref] = Interest(task: observe(ref), pinned: pinned)
    metrics.topologyLoads.add(1, ordering: .relaxed)
  }

  /// The objects this host serves, from its host object: kept loaded for good. Objects
  /// no longer among them become ordinary cached objects.
  func updatePinned() {
    var roots: Set<ObjectRef> = [ObjectRef(.host, hostID)]
    if let host = snapshot.hosts[hostID] {
      roots.formUnion(host.tunnelZoneIds.map { ObjectRef(.tunnelZone, $0) })
      roots.formUnion(host.portIds.map { ObjectRef(.port, $0) })
      roots.formUnion(host.candidatePortIds.map { ObjectRef(.port, $0) })
    }
    for ref in roots.sorted() { want(ref, pinned: true) }
    for (ref, interest) in interests where interest.pinned && !roots.contains(ref) {
      interests[ref]?.pinned = false
      interests[ref]?.idleSince = .now
    }
  }

  /// An observed object's value arrived (first or changed).
  func applyLoaded(_ object: any ModelObject) {
    let ref = ObjectRef(type(of: object).modelType, object.id)
    // An object evicted while its update was on the way is not brought back unobserved.
    guard interests[ref] != nil else { return }
    interests[ref]?.loaded = true
    if corruptObjects.removeValue(forKey: ref) != nil {
      metrics.corruptObjects.store(corruptObjects.count, ordering: .relaxed)
      logger.info("topology object readable again", metadata: ["agent.object": "\(ref)"])
    }
    applyTopology(.upsert(object))
    for dependency in TopologyDependencies.needed(by: object) { want(dependency) }
    if ref == ObjectRef(.host, hostID) { updatePinned() }
    checkTopologyReady()
    postPendingRetry()
  }

  /// Asks for the packets waiting on topology to be simulated again once the events
  /// already queued (often more objects of the same burst) are applied: a packet's path
  /// is loaded one level at a time, so waiting for the next tick at each level would
  /// add up.
  func postPendingRetry() {
    guard !pendingRetryPosted,
      !core.pendingGenerated.isEmpty
        || pending.contains(where: {
          if case .notYet = $0.reason { return true } else { return false }
        })
    else { return }
    pendingRetryPosted = true
    events.yield(.retryPending)
  }

  /// An observed object's stored bytes cannot be decoded. The agent goes on with its last
  /// good copy (or without the object), reports it at `/health` and in a metric, and
  /// takes the repair when it comes. It counts as settled for readiness: one bad object
  /// must not keep every other port of the host from being served.
  func applyCorrupt(_ ref: ObjectRef, _ reason: String) {
    guard interests[ref] != nil else { return }
    interests[ref]?.loaded = true
    if corruptObjects.updateValue(reason, forKey: ref) == nil {
      logger.info(
        "topology object cannot be decoded; serving without it (or with its last good copy)",
        metadata: [
          "agent.object": "\(ref)", "agent.error": "\(reason)",
          "agent.last_good_copy": "\(snapshot.object(ref.type, ref.id) != nil)",
        ])
    }
    metrics.corruptObjects.store(corruptObjects.count, ordering: .relaxed)
    checkTopologyReady()
    postPendingRetry()
  }

  /// An observed object is gone from the NSDB (deleted, or it never existed).
  func applyAbsent(_ ref: ObjectRef) {
    interests[ref] = nil
    if corruptObjects.removeValue(forKey: ref) != nil {
      metrics.corruptObjects.store(corruptObjects.count, ordering: .relaxed)
    }
    absentUntil[ref] = .now + .seconds(1)
    if snapshot.object(ref.type, ref.id) != nil { applyTopology(.delete(ref.type, ref.id)) }
    checkTopologyReady()
    postPendingRetry()
  }

  /// Ready once this host and every object it serves are loaded: then the bindings are
  /// checked, the deferred watches started and the elections joined.
  func checkTopologyReady() {
    guard !topologyReady, snapshot.hosts[hostID] != nil else { return }
    guard interests.values.allSatisfy({ !$0.pinned || $0.loaded }) else { return }
    topologyReady = true
    reconcileBindings(force: true)
    let deferred = deferredWatches
    deferredWatches = []
    for key in deferred { watch(key) }
    for port in snapshot.ports.values where port.candidate(for: hostID) != nil {
      updateElection(port.id)
    }
  }

  /// Drops objects not pinned that neither a flow nor a simulation used for
  /// `topologyIdleTimeout`. A flow uses an object when it carries one of the tags a
  /// change of the object would invalidate.
  ///
  /// No sweep while packets wait for topology: the objects their paths are being loaded
  /// for have not been used yet, and dropping them would make those packets wait again.
  func sweepTopology() async {
    guard topologyReady, !sweepingTopology, pending.isEmpty, let datapath else { return }
    sweepingTopology = true
    defer { sweepingTopology = false }
    let flows = await datapath.dump()
    var live = core.takeUsedTagsSinceSweep()
    for flow in flows { live.formUnion(flow.entry.tags) }
    let now = ContinuousClock.now
    absentUntil = absentUntil.filter { $0.value > now }
    let idle = Duration.milliseconds(configuration.topologyIdleTimeout * 1000)
    var evicted: [ObjectRef] = []
    for (ref, interest) in interests where !interest.pinned && interest.loaded {
      let object = snapshot.object(ref.type, ref.id)
      let tags = object.map { FlowTagHasher.hash(Invalidation.tags(of: $0)) } ?? []
      if tags.contains(where: live.contains) {
        interests[ref]?.idleSince = nil
      } else if let since = interest.idleSince {
        if now - since >= idle { evicted.append(ref) }
      } else {
        interests[ref]?.idleSince = now
      }
    }
    guard !evicted.isEmpty else { return }
    for ref in evicted {
      interests.removeValue(forKey: ref)?.task.cancel()
      corruptObjects[ref] = nil
      if snapshot.object(ref.type, ref.id) != nil { applyTopology(.delete(ref.type, ref.id)) }
    }
    metrics.topologyEvictions.add(UInt64(evicted.count), ordering: .relaxed)
    metrics.corruptObjects.store(corruptObjects.count, ordering: .relaxed)
    logger.debug("dropped unused topology objects", metadata: ["agent.objects": "\(evicted.count)"])
  }

  /// The observation task of one object.
  private func observe(_ ref: ObjectRef) -> Task<Void, Never> {
    switch ref.type {
    case .host: return follow(Host.self, ref.id)
    case .tunnelZone: return follow(TunnelZone.self, ref.id)
    case .bridge: return follow(Bridge.self, ref.id)
    case .router: return follow(Router.self, ref.id)
    case .port: return follow(Topology.Port.self, ref.id)
    case .route: return follow(Route.self, ref.id)
    case .chain: return follow(Chain.self, ref.id)
    case .rule: return follow(Rule.self, ref.id)
    case .portGroup: return follow(PortGroup.self, ref.id)
    case .ipAddrGroup: return follow(IPAddrGroup.self, ref.id)
    case .dhcp: return follow(Dhcp.self, ref.id)
    }
  }

  /// Follows one object into the event stream. For an exterior port, its activity and
  /// the liveness of the host serving it are read first and delivered before the port,
  /// so a port never enters the view looking inactive for a moment.
  private func follow<T: WireCodable>(_ type: T.Type, _ id: ID) -> Task<Void, Never> {
    guard let store, let portState, let hostState else { return Task {} }
    let events = events
    let logger = logger
    let hostID = hostID
    let ref = ObjectRef(T.modelType, id)
    return Task {
      var primed = false
      while !Task.isCancelled {
        do {
          for try await update in store.observe(T.self, id) {
            switch update {
            case .value(let object):
              if !primed, let port = object as? Topology.Port, port.isExterior {
                let activation = try? await portState.activeState(port.id)
                if let host = activation?.host, host != hostID {
                  let alive = (try? await hostState.isAlive(host)) ?? false
                  events.yield(.alive(host: host, alive))
                }
                events.yield(.active(port: port.id, activation))
              }
              primed = true
              events.yield(.topology(.upsert(object)))
            case .corrupt(let error):
              // The last good copy (if any) stays in use; a repair arrives as a value.
              events.yield(.topologyCorrupt(ref, "\(error)"))
            case .deleted:
              events.yield(.topologyAbsent(ref))
              return
            }
          }
          return
        } catch let error as NSDBError where error.code == .notFound {
          events.yield(.topologyAbsent(ref))
          return
        } catch {
          if Task.isCancelled { return }
          logger.debug(
            "object observation ended; restarting",
            metadata: ["agent.object": "\(ref)", "agent.error": "\(error)"])
        }
        try? await Task.sleep(for: .milliseconds(500))
      }
    }
  }
}
