import Addresses
import AgentCore
import Datapath
import Foundation
import Logging
import NSDB
import Packets
import Simulation
import Topology
import ZooKeeper

extension Agent {
  /// Connects to ZooKeeper, registers the host, starts the datapath, the observers and
  /// the control API, and returns once the topology is loaded and the bindings checked
  /// (or after `readyTimeout`, logging what is missing).
  public func start(readyTimeout: Duration = .seconds(30)) async throws {
    let credentials = try loadCredentials()
    let client: ZooKeeperClient
    do {
      client = try await ZooKeeperClient.connect(
        to: configuration.zookeeper,
        sessionTimeout: .milliseconds(configuration.sessionTimeout * 1000),
        authentication: credentials.identities,
        logger: logger, timeout: .seconds(max(10, configuration.sessionTimeout * 2)))
    } catch {
      throw AgentError(
        .zookeeper, "cannot reach ZooKeeper at \(configuration.zookeeper)",
        cause: AgentError.Described(error))
    }
    self.client = client
    writeSessionFile()
    notePhase("connect")
    metrics.sessionState.store(1, ordering: .relaxed)
    gateway.session(connected: true)
    let store = NSDBStore(client: client, root: configuration.root, logger: logger)
    self.store = store
    portState = PortState(client: client, paths: store.paths, logger: logger)
    natLeases = NATLeases(client: client, paths: store.paths, logger: logger) {
      [events] block in events.yield(.natLost(block))
    }
    core.enableNATLeasing()
    hostState = HostState(client: client, paths: store.paths, logger: logger)
    writer = NSDBWriter(logger: logger, metrics: metrics)
    do {
      try await secure(store, credentials: credentials)
      try await store.setUp()
      try await register(store)
      try await followTunnelKeys(store)
      try await hostState?.registerAlive(host: hostID)
      if configuration.livenessEnabled {
        let lease = HostLease(client: client, paths: store.paths, logger: logger)
        try await lease.register(host: hostID)
        hostLease = lease
      }
    } catch let error as AgentError {
      await client.close()
      throw error
    } catch {
      await client.close()
      throw AgentError(
        .registration, "cannot register host '\(configuration.hostName)' (\(hostID))",
        cause: AgentError.Described(error))
    }

    notePhase("register")
    let events = self.events
    do {
      let address = AgentConfiguration.ipv4(configuration.tunnelAddress)!
      datapath = try DatapathSwitch(
        configuration: DatapathSwitch.Configuration(
          tunnel: TunnelEndpoint(
            address: IPv4Address(rawValue: address), port: configuration.tunnelPort),
          flowCapacity: configuration.flowCapacity),
        logger: logger,
        onMiss: { events.yield(.misses([$0])) },
        onMissBatch: { events.yield(.misses($0)) },
        onEvent: { events.yield(.datapath($0)) })
    } catch {
      await client.close()
      throw AgentError(
        .datapath,
        "cannot start the datapath (tunnel \(configuration.tunnelAddress):\(configuration.tunnelPort))",
        cause: AgentError.Described(error))
    }

    notePhase("datapath")
    tasks.append(Task { await self.run() })
    startLiveness()
    want(ObjectRef(.host, hostID), pinned: true)
    let sessions = client.sessionEvents()
    tasks.append(
      Task {
        for await event in sessions { events.yield(.session(event)) }
      })
    let interval = Duration.milliseconds(min(configuration.interfacePollInterval, 0.25) * 1000)
    tasks.append(
      Task {
        while !Task.isCancelled {
          try? await Task.sleep(for: interval)
          events.yield(.tick)
        }
      })
    try await startControlServers()

    let deadline = ContinuousClock.now + readyTimeout
    while !isReady && ContinuousClock.now < deadline {
      try? await Task.sleep(for: .milliseconds(5))
    }
    notePhase("load")
    if isReady {
      logger.info(
        "agent ready",
        metadata: [
          "agent.host": "\(configuration.hostName)", "agent.host_id": "\(hostID)",
          "agent.objects": "\(snapshot.count)", "agent.ports": "\(attached.count)",
          "agent.startup_ms": "\((ContinuousClock.now - startInstant).milliseconds)",
          "agent.startup_phases":
            "\(startupPhases.map { "\($0.name)=\($0.duration.milliseconds)ms" }.joined(separator: " "))",
        ])
    } else {
      let missing = core.interests.interests.filter { $0.value.pinned && !$0.value.loaded }
        .keys.sorted()
      logger.info(
        "agent started before the objects it serves were loaded",
        metadata: ["agent.missing": "\(missing.map(\.description).joined(separator: ","))"])
    }
  }

  /// Records how long the start-up phase `name` took (since the previous one).
  private func notePhase(_ name: String) {
    let now = ContinuousClock.now
    let previous = startupPhases.reduce(startInstant) { $0 + $1.duration }
    startupPhases.append((name, now - previous))
  }

  /// Creates the host object if missing and publishes this host's tunnel endpoint in its
  /// tunnel zone (creating the zone if missing), in one transaction.
  func register(_ store: NSDBStore) async throws {
    // The agent writes no model objects: its Host object and tunnel-zone membership come
    // from `midgectl apply` (docs/security.md). It waits for the Host object, and says
    // what is missing while it does.
    let name = configuration.hostName
    let zoneID = ID(name: "\(ModelType.tunnelZone.rawValue)/\(configuration.tunnelZone)")
    let endpoint = TunnelZone.Endpoint(
      address: IPv4Address(rawValue: AgentConfiguration.ipv4(configuration.tunnelAddress)!),
      port: configuration.tunnelPort)
    var waited = 0
    while try await !store.exists(Host.self, hostID) {
      if waited % 50 == 0 {
        logger.info(
          "waiting for this host's Host object: apply a topology that names it (hosts: [{name: \(name), ...}])",
          metadata: ["agent.host": "\(name)", "agent.host_id": "\(hostID)"])
      }
      waited += 1
      try await Task.sleep(for: .milliseconds(200))
    }
    let zone = try? await store.get(TunnelZone.self, zoneID)
    if let member = zone?.members[hostID] {
      if member != endpoint {
        logger.warning(
          "this host's tunnel endpoint in the NSDB differs from its configuration: peers send to the NSDB's",
          metadata: [
            "agent.tunnel_zone": "\(configuration.tunnelZone)",
            "agent.nsdb_endpoint": "\(member.address):\(member.port)",
            "agent.configured": "\(configuration.tunnelAddress):\(configuration.tunnelPort)",
          ])
      }
    } else {
      logger.info(
        "this host is in no tunnel zone of that name: it reaches no other host until a topology puts it in one",
        metadata: ["agent.tunnel_zone": "\(configuration.tunnelZone)"])
    }
    logger.info(
      "host registered",
      metadata: [
        "agent.host": "\(name)", "agent.host_id": "\(hostID)",
        "agent.tunnel_zone": "\(configuration.tunnelZone)",
        "agent.tunnel": "\(configuration.tunnelAddress):\(configuration.tunnelPort)",
      ])
  }

  /// Reads the tunnel zone's keys before the first message goes, then follows them.
  func followTunnelKeys(_ store: NSDBStore) async throws {
    let zone = ID(name: "\(ModelType.tunnelZone.rawValue)/\(configuration.tunnelZone)")
    flowStateSeal = FlowStateSeal(try await store.tunnelKeys(zone))
    let events = events
    let logger = logger
    tasks.append(
      Task {
        do {
          for try await list in store.watchTunnelKeys(zone) { events.yield(.tunnelKeys(list)) }
        } catch {
          logger.warning(
            "cannot follow the tunnel keys; keeping the last ones",
            metadata: ["agent.error": "\(error)"])
        }
      })
  }

  /// The identities in the configured credential file (or `$MIDGE_CREDENTIALS`'s); none
  /// when neither names one.
  func loadCredentials() throws -> CredentialFile.Credentials {
    var file = configuration.credentials
    if file == nil, let value = getenv(CredentialFile.environmentVariable), value.pointee != 0 {
      file = String(cString: value)
    }
    guard let file else { return CredentialFile.Credentials(identities: []) }
    do {
      return try CredentialFile.loadFile(file)
    } catch {
      throw AgentError(.configuration, "\(error)")
    }
  }

  /// On a secured NSDB, what the agent creates gets the tree's ACLs, made by this host's
  /// own identity; without credentials there, a clear error.
  func secure(_ store: NSDBStore, credentials: CredentialFile.Credentials) async throws {
    let identities = credentials.identities
    let own = NSDBIdentities.hostUser(configuration.hostName)
    guard let creator = identities.first(where: { $0.user == own }) ?? identities.last else {
      do {
        _ = try await store.client.get(store.paths.version)
      } catch let error as ZooKeeperError where error.code == .noAuth {
        throw AgentError(
          .registration,
          "the NSDB under \(configuration.root) is secured and this agent has no credentials: name the file of its identities (credentials: in the configuration, --credentials or $\(CredentialFile.environmentVariable))"
        )
      } catch {}
      return
    }
    guard identities.contains(where: { $0.user == own }) else {
      throw AgentError(
        .configuration,
        "the credential file holds no identity for this host (\(own)): make one with `midgectl acl add-host`"
      )
    }
    if try await store.useAccess(creator: creator) == nil, let admin = credentials.adminID,
      let agents = identities.first(where: { $0.user == "agents" })
    {
      // An open tree: what this agent makes is secured from the start all the same, so
      // that securing the tree in place later has nothing of its to fix.
      store.useAccess(
        NSDBAccess(
          identities: NSDBIdentities(admin: admin, agents: agents.id), paths: store.paths,
          creator: creator.id))
    }
  }

  /// A graceful stop: the session is closed first, then the datapath stops.
  ///
  /// Everything that says this host serves something is an ephemeral node of its session:
  /// its ports' `active` state, its liveness, its election candidacies, its learned MAC
  /// and ARP entries. Closing the session removes them all in one server operation, so
  /// peers see the whole host go at once and together, one round trip after the signal.
  /// Writing each removal first would cost a round trip per port and let peers see a
  /// half-gone host. Writes still queued are moot and dropped.
  public func stop() async {
    logger.info("agent stopping", metadata: ["agent.ports": "\(attached.count)"])
    // Gateway ports fall silent before the session (and so the election) goes.
    for (port, attachment) in attached where elections[port] != nil {
      datapath?.setGate(port: attachment.number, deadline: PortGate.closed)
    }
    for task in takeovers.values { task.cancel() }
    takeovers = [:]
    writer?.cancel()
    for election in elections.values { election.task.cancel() }
    elections = [:]
    for task in watches.values { task.cancel() }
    watches = [:]
    for task in observations.values { task.cancel() }
    observations = [:]
    for task in tasks { task.cancel() }
    tasks = []
    events.finish()
    await client?.close()
    removeSessionFile()
    metrics.sessionState.store(-1, ordering: .relaxed)
    // Last: what peers wait for (the session's end) goes first.
    for server in controlServers { await server.stop() }
    controlServers = []
    datapath?.stop()
    datapath = nil
    flowStateLog.flush()
    logger.info("agent stopped")
  }

  /// The event loop; see the design notes in Agent.swift.
  func run() async {
    for await event in eventStream {
      handle(event)
    }
  }

  func handle(_ event: AgentEvent) {
    switch event {
    case .topology(.upsert(let object)): applyLoaded(object)
    case .topology(.delete(let type, let id)): applyAbsent(ObjectRef(type, id))
    case .topologyAbsent(let ref): applyAbsent(ref)
    case .retryPending:
      pendingRetryPosted = false
      retryPendingTopology()
    case .topologyCorrupt(let ref, let reason): applyCorrupt(ref, reason)
    case .misses(let misses): for miss in misses { handleMiss(miss) }
    case .datapath(let event): handleDatapathEvent(event)
    case .macTable(let bridge, let table): applyMACTable(bridge, table)
    case .ipMACTable(let bridge, let table): applyIPMACTable(bridge, table)
    case .arpTable(let router, let table): applyARPTable(router, table)
    case .active(let port, let activation): applyActivation(port, activation)
    case .alive(let host, let alive): applyAlive(host, alive)
    case .leadership(let port, let leadership): applyLeadership(port, leadership)
    case .session(let event): applySession(event)
    case .tick: tick()
    case .livenessTick: livenessTick()
    case .leaseConfirmed(let sentAt, let result): applyLeaseConfirmation(sentAt: sentAt, result)
    case .takeoverEnded(let port): takeoverEnded(port)
    case .natLeased(let block): execute(core.natLeased(block, now: .now))
    case .natAdopted(let block, let holder): execute(core.natAdopted(block, holder: holder))
    case .tunnelKeys(let list):
      flowStateSeal = FlowStateSeal(list)
      logger.info(
        "tunnel keys changed",
        metadata: [
          "agent.keys": "\(list.keys.map(\.id))",
          "agent.signing": "\(list.signing.map { "\($0.id)" } ?? "none")",
        ])
    case .natLost(let block):
      logger.info(
        "lost a NAT port block lease to another host", metadata: ["agent.block": "\(block)"])
      execute(core.natLost(block))
    }
  }

  func applySession(_ event: SessionEvent) {
    switch event {
    case .connected, .reconnected:
      gateway.session(connected: true)
      metrics.sessionState.store(1, ordering: .relaxed)
      writeSessionFile()
      logger.info("ZooKeeper session up", metadata: ["agent.session": "\(event)"])
    case .suspended:
      gateway.session(connected: false)
      metrics.sessionState.store(0, ordering: .relaxed)
      logger.info("ZooKeeper connection lost; forwarding with what is known")
    case .expired:
      gateway.session(connected: false)
      metrics.sessionState.store(-1, ordering: .relaxed)
      metrics.sessionExpiries.add(1, ordering: .relaxed)
      logger.info("ZooKeeper session expired; re-registering on the next session")
    case .closed:
      gateway.session(connected: false)
      metrics.sessionState.store(-1, ordering: .relaxed)
    }
  }

  func tick() {
    let now = ContinuousClock.now
    if bindingsChanged
      || now - lastBindingCheck >= .milliseconds(configuration.interfacePollInterval * 1000)
    {
      if topologyReady { reconcileBindings(force: false) }
    }
    expirePending(now)
    // Tunnel datagrams are taken from the alive hosts of this host's tunnel zones only:
    // whether each is alive is watched from the moment it shares a zone with this one.
    for host in core.tunnelZoneMembers.keys { watch(.alive(host)) }
    let peers = core.tunnelPeers
    if peers != tunnelPeers, let datapath {
      tunnelPeers = peers
      datapath.setTunnelPeers(peers)
    }
    metrics.conntrackEntries.store(core.flowState.conntrackCount, ordering: .relaxed)
    metrics.natBindings.store(core.flowState.natCount, ordering: .relaxed)
    metrics.natBlocks.store(core.leasedNATBlocks, ordering: .relaxed)
    if now - lastMACSweep >= .milliseconds(configuration.macRetention * 500) {
      lastMACSweep = now
      Task { await self.sweepLearnedMACs() }
    }
    if now - lastFlowStateSweep >= core.flowState.timeouts.sweepInterval {
      lastFlowStateSweep = now
      Task { await self.sweepFlowState() }
    }
    if now - lastTopologySweep >= .milliseconds(min(configuration.topologyIdleTimeout, 60) * 500) {
      lastTopologySweep = now
      Task { await self.sweepTopology() }
    }
  }
}

extension Duration {
  /// Whole milliseconds.
  var milliseconds: Int64 {
    let (seconds, attoseconds) = components
    return seconds * 1000 + attoseconds / 1_000_000_000_000_000
  }
}
