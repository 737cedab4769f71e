import Addresses
import AgentCore
import Datapath
import Logging
import NSDB
import Packets
import Simulation
import Topology

extension Agent {
  /// Applies one observed change (the core decides what it invalidates) and arms or
  /// drops the watches the changed object needs (port activity, host liveness, state
  /// tables).
  func applyTopology(_ change: TopologyChange) {
    let (type, id) = change.key
    let (applied, directives) = core.applyTopology(change)
    guard applied.changed else { return }
    metrics.topologyObjects.store(core.snapshot.count, ordering: .relaxed)
    execute(directives)
    let old = applied.old
    let new = applied.new
    switch type {
    case .port:
      let port = new as? Port
      if port?.isExterior == true { watch(.active(id)) } else { unwatch(.active(id)) }
      if (old as? Port)?.hostId == hostID || port?.hostId == hostID { bindingsChanged = true }
      if (old as? Port)?.candidate(for: hostID) != nil || port?.candidate(for: hostID) != nil {
        bindingsChanged = true
        if topologyReady { updateElection(id) }
      }
    case .bridge:
      if new == nil {
        unwatch(.macTable(id))
        unwatch(.ipMACTable(id))
      } else {
        watch(.macTable(id))
        watch(.ipMACTable(id))
      }
    case .router:
      if new == nil { unwatch(.arpTable(id)) } else { watch(.arpTable(id)) }
    default:
      break
    }
  }

  /// The view, rebuilt first if the topology changed since it was built.
  func currentView() -> SimulationView {
    core.currentView()
  }

  /// Removes every flow tagged with one of `tags`.
  func invalidate(_ tags: [FlowTag]) {
    execute([.invalidate(FlowTagHasher.hash(tags))])
  }

  /// A port's published activity; liveness is followed for the hosts serving ports this
  /// agent knows.
  func applyActivation(_ port: ID, _ activation: PortActivation?) {
    if let host = activation?.host, host != hostID { watch(.alive(host)) }
    execute(core.setActivation(port, activation))
  }

  func applyAlive(_ host: ID, _ alive: Bool) {
    guard core.aliveHosts.contains(host) != alive else { return }
    logger.info(
      alive ? "peer host alive" : "peer host gone",
      metadata: ["agent.peer": "\(snapshot.hosts[host]?.name ?? host.description)"])
    execute(core.setAlive(host, alive))
  }

  // MARK: State tables

  func applyMACTable(_ bridge: ID, _ table: [MACAddress: ID]) {
    execute(core.applyMACTable(bridge, table))
  }

  func applyIPMACTable(_ bridge: ID, _ table: [IPv4Address: MACAddress]) {
    execute(core.applyIPMACTable(bridge, table))
  }

  func applyARPTable(_ router: ID, _ table: [IPv4Address: MACAddress]) {
    execute(core.applyARPTable(router, table, now: .now))
  }

  // MARK: Watches

  func watch(_ key: WatchKey) {
    guard watches[key] == nil else { return }
    // During the cold start, per-port and per-host watches wait until every type is
    // loaded: their first reads would compete with the bulk reads the agent waits for.
    // Until then no port counts as active, so no flow is built on missing activity.
    guard topologyReady else {
      deferredWatches.insert(key)
      return
    }
    guard let client, let store, let portState, let hostState else { return }
    let events = events
    let logger = logger
    let paths = store.paths
    let body: @Sendable () async throws -> Void
    switch key {
    case .active(let port):
      body = {
        for try await activation in portState.watchActive(port) {
          events.yield(.active(port: port, activation))
        }
      }
    case .alive(let host):
      body = {
        for try await alive in hostState.watchAlive(host) {
          events.yield(.alive(host: host, alive))
        }
      }
    case .macTable(let bridge):
      body = {
        let table = MACTable.macTable(client: client, paths: paths, bridge: bridge, logger: logger)
        for try await update in table.replicate() {
          events.yield(.macTable(bridge: bridge, update.snapshot))
        }
      }
    case .ipMACTable(let bridge):
      body = {
        let table = IPv4MACTable.ip4MacTable(
          client: client, paths: paths, bridge: bridge, logger: logger)
        for try await update in table.replicate() {
          events.yield(.ipMACTable(bridge: bridge, update.snapshot))
        }
      }
    case .arpTable(let router):
      body = {
        let table = ARPTable.arpTable(client: client, paths: paths, router: router, logger: logger)
        for try await update in table.replicate() {
          events.yield(.arpTable(router: router, update.snapshot))
        }
      }
    }
    watches[key] = Task {
      // A watch stream ends only when ZooKeeper failed in a way it could not ride out;
      // start it again after a pause until the watch is no longer wanted.
      while !Task.isCancelled {
        do {
          try await body()
          return
        } catch {
          if Task.isCancelled { return }
          logger.debug("watch ended; restarting", metadata: ["agent.watch": "\(key)"])
        }
        try? await Task.sleep(for: .milliseconds(500))
      }
    }
  }

  func unwatch(_ key: WatchKey) {
    deferredWatches.remove(key)
    watches.removeValue(forKey: key)?.cancel()
    if case .active(let port) = key { applyActivation(port, nil) }
  }
}
