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
  /// Starts observing `ref` if the core wants it observed (AgentCore.want).
  func want(_ ref: ObjectRef, pinned: Bool = false) {
    guard core.want(ref, pinned: pinned, now: .now) else { return }
    startObserving(ref)
  }

  private func startObserving(_ ref: ObjectRef) {
    observations[ref]?.cancel()
    observations[ref] = observe(ref)
    metrics.topologyLoads.add(1, ordering: .relaxed)
  }

  /// The objects this host serves, from its host object: kept loaded for good
  /// (AgentCore.updatePinned).
  func updatePinned() {
    for ref in core.updatePinned(now: .now) { startObserving(ref) }
  }

  /// An observed object's value arrived (first or changed).
  func applyLoaded(_ object: any ModelObject) {
    let ref = ObjectRef(type(of: object).modelType, object.id)
    // An object evicted while its update was on the way is not brought back unobserved.
    guard core.noteLoaded(ref) else { return }
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
    guard core.noteLoaded(ref) else { return }
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
    observations[ref] = nil
    core.noteAbsent(ref, now: .now)
    if corruptObjects.removeValue(forKey: ref) != nil {
      metrics.corruptObjects.store(corruptObjects.count, ordering: .relaxed)
    }
    if snapshot.object(ref.type, ref.id) != nil { applyTopology(.delete(ref.type, ref.id)) }
    checkTopologyReady()
    postPendingRetry()
  }

  /// Ready once this host and every object it serves are loaded: then the bindings are
  /// checked, the deferred watches started and the elections joined.
  func checkTopologyReady() {
    guard !topologyReady, core.pinnedObjectsLoaded else { return }
    topologyReady = true
    reconcileBindings(force: true)
    let deferred = deferredWatches
    deferredWatches = []
    for key in deferred { watch(key) }
    for port in snapshot.ports.values where port.candidate(for: hostID) != nil {
      updateElection(port.id)
    }
  }

  /// The idle sweep: the tags of the installed flows from a dump of the datapath, the
  /// decision from the core (AgentCore.sweepTopology).
  ///
  /// No sweep while packets wait for topology: the objects their paths are being loaded
  /// for have not been used yet, and dropping them would make those packets wait again.
  func sweepTopology() async {
    guard topologyReady, !sweepingTopology, pending.isEmpty, let datapath else { return }
    sweepingTopology = true
    defer { sweepingTopology = false }
    var tags = Set<FlowTagHash>()
    for flow in await datapath.dump() { tags.formUnion(flow.entry.tags) }
    let evicted = core.sweepTopology(
      flowTags: tags, idle: .milliseconds(configuration.topologyIdleTimeout * 1000), now: .now)
    guard !evicted.isEmpty else { return }
    for ref in evicted {
      observations.removeValue(forKey: ref)?.cancel()
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
