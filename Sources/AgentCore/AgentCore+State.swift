import Addresses
import Datapath
import Packets
import Simulation
import Topology

extension AgentCore {
  /// A simulation's state changes: into the view at once, invalidating the flows that
  /// used the old value; MACs learned on a local port and ARP entries are written to the
  /// NSDB; conntrack and NAT entries stay in the view (`replicate` sends them on). ARP
  /// entries that changed are added to `released`: packets waiting for them go again.
  mutating func record(
    _ changes: [StateChange], flowState keepFlowState: Bool = true,
    now: ContinuousClock.Instant, released: inout [DeviceIPKey],
    into out: inout [AgentDirective]
  ) {
    for change in changes {
      switch change {
      case .macLearned(let bridge, let vlan, let mac, let port):
        let key = MACTableKey(bridge: bridge, vlan: vlan, mac: mac)
        guard view.macTable[key] != port else { continue }
        view.macTable[key] = port
        out.append(
          .invalidate([FlowTagHasher.hash(.bridgeMAC(bridge: bridge, vlan: vlan, mac: mac))]))
        // Only what this host's own ports learned (on the untagged table) is its to write.
        guard vlan == 0, localPorts[port] != nil else { continue }
        learnedMACs[LearnedMAC(bridge: bridge, port: port, mac: mac)] = now
        out.append(.writeMAC(bridge: bridge, mac: mac, port: port))
      case .arpLearned(let router, let ip, let mac):
        let key = DeviceIPKey(device: router, ip: ip)
        guard view.arpTable[key] != mac else { continue }
        view.arpTable[key] = mac
        out.append(.invalidate([FlowTagHasher.hash(.arpEntry(router: router, ip: ip))]))
        out.append(.writeARP(router: router, ip: ip, mac: mac))
        released.append(key)
      case .conntrack, .natBinding:
        guard keepFlowState else { continue }
        view.apply(change)
        if flowState.add(change, origin: .local, now: now),
          case .natBinding(let binding) = change
        {
          noteNATBinding(binding, now: now, into: &out)
        }
      }
    }
  }

  /// Where a simulation's conntrack and NAT entries go: the local log of every attached
  /// port the flow enters or leaves by, and the hosts that may simulate the connection
  /// next — the host where an egress port is active (its reply enters there) and every
  /// other candidate of a port the flow crosses that several hosts can serve (one of them
  /// takes over on a failover).
  mutating func replicate(
    _ result: SimulationResult, ingress: ID, port number: UInt32,
    into out: inout [AgentDirective]
  ) {
    let changes = result.stateChanges.filter {
      switch $0 {
      case .conntrack, .natBinding: return true
      case .macLearned, .arpLearned: return false
      }
    }
    guard !changes.isEmpty else { return }
    var logPorts: [ID] = []
    let outputs = result.outputPorts
    for port in [ingress] + outputs where localPorts[port] != nil && !logPorts.contains(port) {
      logPorts.append(port)
    }
    out.append(
      .replicate(
        FlowStateCopy(
          changes: changes, logPorts: logPorts,
          recipients: recipients(ingress: ingress, outputs: outputs), before: number)))
  }

  /// The hosts that may simulate a connection next, and where their tunnels end: the
  /// host where an output port is active (its reply enters there), and every other
  /// candidate of a port the connection crosses that several hosts can serve.
  func recipients(ingress: ID?, outputs: [ID]) -> [ID: TunnelEndpoint] {
    var hosts = Set<ID>()
    for port in outputs {
      if let active = view.activePorts[port], active.host != hostID { hosts.insert(active.host) }
    }
    for port in (ingress.map { [$0] } ?? []) + outputs {
      for candidate in snapshot.ports[port]?.candidates ?? [] where candidate.hostId != hostID {
        hosts.insert(candidate.hostId)
      }
    }
    var recipients: [ID: TunnelEndpoint] = [:]
    for host in hosts {
      if let remote = endpoints[host] { recipients[host] = remote }
    }
    return recipients
  }

  /// Conntrack and NAT entries from another host (`port` nil) or from a local port's log
  /// join the view; entries from the log are this host's own again (it refreshes them).
  /// Entries handed over with a port that moved here (`owner`) are this host's own once
  /// the port is attached here (they go into its log then); until then they are copies
  /// that remember the port. A received NAT binding that differs from the one here for
  /// the same connection replaces it, and the flows built on the old one are invalidated
  /// (a port that moved here may have made its own before the previous host's copy
  /// arrived).
  @discardableResult
  public mutating func applyFlowState(
    _ changes: [StateChange], port: ID? = nil, owner: ID? = nil, closing: [FlowStateKey] = [],
    now: ContinuousClock.Instant
  ) -> [AgentDirective] {
    flowState.closing(closing)
    var out: [AgentDirective] = []
    var stale: [FlowTagHash] = []
    var replaced = Set<NATKey>()
    for case .natBinding(let binding) in changes {
      guard let existing = view.nat[binding.forwardKey], existing != binding.forward else {
        continue
      }
      stale.append(FlowTagHasher.hash(.nat(binding.forwardKey)))
      if case .natBinding(let old)? = flowState.entries[.nat(binding.forwardKey)]?.change {
        forgetNATBinding(old)
        replaced.insert(binding.forwardKey)
      }
    }
    view.apply(changes)
    let ownerHere = owner.map { localPorts[$0] != nil } ?? false
    let local = port != nil || ownerHere
    let ports = (port ?? owner).map { [$0] } ?? []
    for change in changes {
      let added = flowState.add(change, origin: local ? .local : .peer, ports: ports, now: now)
      if case .natBinding(let binding) = change, added || replaced.contains(binding.forwardKey) {
        countNATBinding(binding)
      }
    }
    if local { claimNATBlocks(of: changes, into: &out) }
    if ownerHere, let owner {
      out.append(
        .replicate(
          FlowStateCopy(changes: changes, logPorts: [owner], recipients: [:], before: nil)))
    }
    if !stale.isEmpty { out.append(.invalidate(stale)) }
    return out
  }

  // MARK: Ports attached here

  /// A local port was attached as datapath port `number`: it is active here at once
  /// (the NSDB follows).
  /// A port that moved here from another host (`now` given) holds its packets until that
  /// host's hand-over arrives, at most `handOverWait`: simulated without it, they would
  /// start new connections (a new NAT port) in place of the ones that moved.
  public mutating func attach(_ port: ID, number: UInt32, now: ContinuousClock.Instant? = nil)
    -> [AgentDirective]
  {
    // Only a port bound here by name: a gateway port changes hands by election, and its
    // standby has the state already (it is a replication recipient).
    let previousHost = movedFrom.removeValue(forKey: port)
    if let now, snapshot.ports[port]?.hostId == hostID,
      let from = previousHost ?? activations[port]?.host, from != hostID, aliveHosts.contains(from)
    {
      awaitingHandOver[port] = now + settings.handOverWait
    }
    localPorts[port] = number
    portIDs[number] = port
    cachedTranslator = nil
    var out = setActivation(port, PortActivation(host: hostID, tunnelKey: number))
    // Copies handed over (or left by an earlier stay) with this port are its own now.
    let adopted = flowState.reassign(port, to: .local)
    if !adopted.isEmpty {
      claimNATBlocks(of: adopted, into: &out)
      out.append(
        .replicate(FlowStateCopy(changes: adopted, logPorts: [port], recipients: [:], before: nil)))
    }
    return out
  }

  /// A local port went: its activity here, the MACs learned on it and its flows go too.
  public mutating func detach(_ port: ID) -> [AgentDirective] {
    guard let number = localPorts.removeValue(forKey: port) else { return [] }
    if portIDs[number] == port { portIDs[number] = nil }
    cachedTranslator = nil
    var out: [AgentDirective] = []
    if activations[port]?.host == hostID {
      activations[port] = nil
      refreshActivePort(port, into: &out)
    }
    withdraw(learnedMACs.keys.filter { $0.port == port }, into: &out)
    handOverFlowState(port, into: &out)
    out.append(.invalidate([FlowTagHasher.hash(.port(port))]))
    return out
  }

  /// A port that left because it is now bound to another host (a VM migrating): the
  /// conntrack entries and NAT bindings of its connections go to that host at once, so it
  /// continues them instead of making new ones (a new NAT port would break every open
  /// connection). The copies leave before anything else this host sends the new host.
  mutating func handOverFlowState(_ port: ID, into out: inout [AgentDirective]) {
    guard let newHost = snapshot.ports[port]?.hostId, newHost != hostID,
      let remote = endpoints[newHost]
    else { return }
    // The new host owns them from now on: here they are copies, kept while it refreshes
    // them (or flows here use them).
    let changes = flowState.reassign(port, to: .peer)
    send(changes, to: newHost, at: remote, owner: port, into: &out)
    // The mark that it is all: in the last message, or alone.
    if let last = out.indices.last, case .replicate(var copy) = out[last], copy.before == nil,
      copy.recipients.keys.first == newHost, !changes.isEmpty
    {
      copy.handOver = port
      out[last] = .replicate(copy)
    } else {
      out.append(
        .replicate(
          FlowStateCopy(
            changes: [], logPorts: [], recipients: [newHost: remote], before: nil,
            handOver: port)))
    }
  }

  /// The previous host's hand-over of `port` arrived: its packets go.
  public mutating func handOverArrived(_ port: ID, now: ContinuousClock.Instant)
    -> [AgentDirective]
  {
    guard awaitingHandOver.removeValue(forKey: port) != nil else { return [] }
    let waiting = pending.filter { $0.reason == .handOver(port) }
    guard !waiting.isEmpty else { return [] }
    pending.removeAll { $0.reason == .handOver(port) }
    var out: [AgentDirective] = []
    run(waiting, retry: true, now: now, into: &out)
    return out
  }

  /// Sends `changes` to one host on their own (no packet to precede), in messages of at
  /// most `refreshBatch` entries: one datagram each on a 1500-byte underlay.
  func send(
    _ changes: [StateChange], to host: ID, at remote: TunnelEndpoint, owner: ID? = nil,
    into out: inout [AgentDirective]
  ) {
    var start = 0
    while start < changes.count {
      let end = min(start + Self.refreshBatch, changes.count)
      out.append(
        .replicate(
          FlowStateCopy(
            changes: Array(changes[start..<end]), logPorts: [], recipients: [host: remote],
            before: nil, owner: owner)))
      start = end
    }
  }

  // MARK: Learned MACs

  /// Withdraws learned MAC entries from the view (invalidating what used them) and from
  /// the bridge's table in the NSDB.
  mutating func withdraw(_ entries: [LearnedMAC], into out: inout [AgentDirective]) {
    var tags: [FlowTag] = []
    for entry in entries {
      learnedMACs[entry] = nil
      let key = MACTableKey(bridge: entry.bridge, vlan: 0, mac: entry.mac)
      guard view.macTable[key] == entry.port else { continue }
      view.macTable[key] = nil
      tags.append(.bridgeMAC(bridge: entry.bridge, vlan: 0, mac: entry.mac))
      out.append(.forgetMAC(bridge: entry.bridge, mac: entry.mac, port: entry.port))
    }
    if !tags.isEmpty { out.append(.invalidate(FlowTagHasher.hash(tags))) }
  }

  /// The periodic MAC retention pass, given the matches of the flows installed now: a MAC
  /// still used by a flow (its source, entering the port it was learned on) is kept
  /// fresh; the others are withdrawn once unused for `retention`. So an entry lives
  /// exactly as long as traffic that the datapath alone carries needs it.
  public mutating func sweepLearnedMACs(
    flows: [FlowMatch], retention: Duration, now: ContinuousClock.Instant
  ) -> [AgentDirective] {
    guard !learnedMACs.isEmpty else { return [] }
    var inUse = Set<LearnedMAC>()
    var byPortAndMAC: [PortMAC: LearnedMAC] = [:]
    for entry in learnedMACs.keys {
      byPortAndMAC[PortMAC(port: entry.port, mac: entry.mac), default: entry] = entry
    }
    for match in flows {
      guard let port = portIDs[match.ingressPort],
        let entry = byPortAndMAC[PortMAC(port: port, mac: match.ethernetSource)]
      else { continue }
      inUse.insert(entry)
    }
    var expired: [LearnedMAC] = []
    for (entry, lastUsed) in learnedMACs {
      if inUse.contains(entry) {
        learnedMACs[entry] = now
      } else if now - lastUsed > retention {
        expired.append(entry)
      }
    }
    var out: [AgentDirective] = []
    withdraw(expired, into: &out)
    return out
  }

  struct PortMAC: Hashable {
    var port: ID
    var mac: MACAddress
  }
}

extension AgentCore {
  /// The periodic flow-state pass (FlowStateTable.sweep): `usedTags` are the tags of the
  /// flows that carried a packet since the last pass. Expired entries leave the view and
  /// their flows are invalidated; live local entries due for a refresh are sent to the
  /// hosts that may simulate their connections next, in messages of at most
  /// `refreshBatch` entries (one datagram on a 1500-byte underlay).
  public mutating func sweepFlowState(
    usedTags: some Sequence<FlowTagHash>, now: ContinuousClock.Instant
  ) -> [AgentDirective] {
    let sweep = flowState.sweep(usedTags: usedTags, now: now)
    var out: [AgentDirective] = []
    if !sweep.expired.isEmpty {
      for change in sweep.expired {
        view.remove(change)
        if case .natBinding(let binding) = change { forgetNATBinding(binding) }
      }
      view.compactFlowState()
      out.append(.invalidate(sweep.tags))
      out.append(.count(.flowStateExpired(sweep.expired.count)))
    }
    releaseIdleNATBlocks(into: &out)
    adoptOrphanedNATBlocks(into: &out)
    guard !sweep.refresh.isEmpty || !sweep.closing.isEmpty else { return out }
    var byHost: [ID: (remote: TunnelEndpoint, changes: [StateChange], closing: [FlowStateKey])] =
      [:]
    var refreshed = 0
    for (change, ports) in sweep.refresh {
      let recipients = refreshRecipients(change, ports: ports)
      if !recipients.isEmpty { refreshed += 1 }
      for (host, remote) in recipients {
        byHost[host, default: (remote, [], [])].changes.append(change)
      }
    }
    for (key, change, ports) in sweep.closing {
      for (host, remote) in refreshRecipients(change, ports: ports) {
        byHost[host, default: (remote, [], [])].closing.append(key)
      }
    }
    for host in byHost.keys.sorted() {
      guard let (remote, changes, closing) = byHost[host] else { continue }
      send(changes, to: host, at: remote, into: &out)
      var start = 0
      while start < closing.count {
        let end = min(start + Self.refreshBatch * 2, closing.count)
        out.append(
          .replicate(
            FlowStateCopy(
              changes: [], logPorts: [], recipients: [host: remote], before: nil,
              closing: Array(closing[start..<end]))))
        start = end
      }
    }
    if refreshed > 0 { out.append(.count(.flowStateRefreshed(refreshed))) }
    return out
  }

  /// Who is sent a local entry again: the hosts that may simulate its connection next,
  /// and the holder of its NAT block when that is another host.
  func refreshRecipients(_ change: StateChange, ports: [ID]) -> [ID: TunnelEndpoint] {
    var recipients = recipients(ingress: nil, outputs: ports)
    if let holder = natBlockHolder(of: change), let remote = endpoints[holder] {
      recipients[holder] = remote
    }
    return recipients
  }

  /// Entries per refresh message: 16 NAT bindings are about 1.2 KB before compression.
  static let refreshBatch = 16
}
