import Addresses
import Datapath
import Logging
import NSDB
import Packets
import Simulation
import Topology

extension Agent {
  /// Applies one observed change: the local copy, the invalidations it implies, and the
  /// watches the changed object needs (port activity, host liveness, state tables).
  func applyTopology(_ change: TopologyChange) {
    let (type, id) = change.key
    let old = snapshot.apply(change)
    let new = snapshot.object(type, id)
    if let old, let new, old.isEqual(to: new) { return }
    viewIsStale = true
    topologyChangedSincePendingRetry = true
    metrics.topologyObjects.store(snapshot.count, ordering: .relaxed)
    invalidate(Invalidation.tags(old: old, new: new))
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
        macTables[id] = nil
        ipMACTables[id] = nil
      } else {
        watch(.macTable(id))
        watch(.ipMACTable(id))
      }
    case .router:
      if new == nil {
        unwatch(.arpTable(id))
        arpTables[id] = nil
      } else {
        watch(.arpTable(id))
      }
    case .tunnelZone:
      updateEndpoints()
    default:
      break
    }
  }

  /// The view, rebuilt first if the topology changed since it was built.
  func currentView() -> SimulationView {
    if viewIsStale {
      view = view.replacingTopology(snapshot)
      viewIsStale = false
    }
    return view
  }

  /// Removes every flow tagged with one of `tags`.
  func invalidate(_ tags: [FlowTag]) {
    guard let datapath, !tags.isEmpty else { return }
    for tag in tags { datapath.removeAll(taggedWith: FlowTagHasher.hash(tag)) }
    metrics.invalidations.add(UInt64(tags.count), ordering: .relaxed)
  }

  /// Tunnel endpoints from every tunnel zone; flows toward a host whose endpoint moved
  /// are invalidated through the ports it serves.
  func updateEndpoints() {
    var fresh: [ID: TunnelEndpoint] = [:]
    for zone in snapshot.tunnelZones.values {
      for (host, endpoint) in zone.members {
        fresh[host] = TunnelEndpoint(
          address: endpoint.address, port: endpoint.port)
      }
    }
    let changed = Set(fresh.keys).union(endpoints.keys).filter { fresh[$0] != endpoints[$0] }
    endpoints = fresh
    invalidate(portsServed(by: changed).map { .port($0) })
  }

  /// The exterior ports active on one of `hosts`.
  func portsServed(by hosts: Set<ID>) -> [ID] {
    guard !hosts.isEmpty else { return [] }
    return activations.filter { hosts.contains($0.value.host) }.map(\.key)
  }

  func applyActivation(_ port: ID, _ activation: PortActivation?) {
    guard activations[port] != activation else { return }
    activations[port] = activation
    // Liveness is followed for the hosts serving ports this agent knows.
    if let host = activation?.host, host != hostID { watch(.alive(host)) }
    refreshActivePort(port)
  }

  func applyAlive(_ host: ID, _ alive: Bool) {
    guard aliveHosts.contains(host) != alive else { return }
    if alive { aliveHosts.insert(host) } else { aliveHosts.remove(host) }
    logger.info(
      alive ? "peer host alive" : "peer host gone",
      metadata: ["agent.peer": "\(snapshot.hosts[host]?.name ?? host.description)"])
    for port in portsServed(by: [host]) { refreshActivePort(port) }
  }

  /// Puts a port's activity into the view: active only while its host is alive.
  func refreshActivePort(_ port: ID) {
    let activation = activations[port]
    let value = activation.flatMap { aliveHosts.contains($0.host) ? $0 : nil }
    guard view.activePorts[port] != value else { return }
    view.activePorts[port] = value
    invalidate([.port(port)])
    topologyChangedSincePendingRetry = true
  }

  // MARK: State tables

  func applyMACTable(_ bridge: ID, _ table: [MACAddress: ID]) {
    let old = macTables[bridge] ?? [:]
    macTables[bridge] = table
    var tags: [FlowTag] = []
    for mac in Set(old.keys).union(table.keys) where old[mac] != table[mac] {
      let key = MACTableKey(bridge: bridge, vlan: 0, mac: mac)
      // A learned entry of ours may already be in the view: nothing to invalidate then.
      guard view.macTable[key] != table[mac] else { continue }
      if let port = table[mac] {
        view.macTable[key] = port
      } else if !learnedMACs.keys.contains(where: { $0.bridge == bridge && $0.mac == mac }) {
        view.macTable[key] = nil
      }
      tags.append(.bridgeMAC(bridge: bridge, vlan: 0, mac: key.mac))
    }
    invalidate(tags)
  }

  func applyIPMACTable(_ bridge: ID, _ table: [IPv4Address: MACAddress]) {
    let old = ipMACTables[bridge] ?? [:]
    ipMACTables[bridge] = table
    var changed = false
    for ip in Set(old.keys).union(table.keys) where old[ip] != table[ip] {
      let key = DeviceIPKey(device: bridge, ip: ip)
      view.bridgeIPTable[key] = table[ip]
      changed = true
    }
    // ARP is never cached in flows, so only the bridge's own flows could depend on it.
    if changed { invalidate([.device(bridge)]) }
  }

  func applyARPTable(_ router: ID, _ table: [IPv4Address: MACAddress]) {
    let old = arpTables[router] ?? [:]
    arpTables[router] = table
    var tags: [FlowTag] = []
    for ip in Set(old.keys).union(table.keys) where old[ip] != table[ip] {
      let key = DeviceIPKey(device: router, ip: ip)
      let mac = table[ip]
      guard view.arpTable[key] != mac else { continue }
      if let mac { view.arpTable[key] = mac } else { view.arpTable[key] = nil }
      tags.append(.arpEntry(router: router, ip: key.ip))
      if mac != nil { resumePending(arp: key) }
    }
    invalidate(tags)
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

extension ModelObject {
  /// Equality across an existential: false for objects of different types.
  func isEqual(to other: any ModelObject) -> Bool {
    guard let other = other as? Self else { return false }
    return self == other
  }
}
