import Addresses
import Datapath
import Simulation
import Topology

extension AgentCore {
  /// What one topology change did to the snapshot.
  public struct TopologyApplied {
    /// The object before and after the change (nil: absent).
    public var old: (any ModelObject)?
    public var new: (any ModelObject)?
    /// False when the object came back equal to what was there.
    public var changed: Bool
  }

  /// Applies one observed change to the snapshot: the view goes stale, and the flows the
  /// old or new object could affect are invalidated. The actor then arms or drops the
  /// watches the object needs.
  public mutating func applyTopology(_ change: TopologyChange) -> (
    TopologyApplied, [AgentDirective]
  ) {
    let (type, id) = change.key
    let old = snapshot.apply(change)
    let new = snapshot.object(type, id)
    if let old, let new, old.isEqual(to: new) {
      return (TopologyApplied(old: old, new: new, changed: false), [])
    }
    viewIsStale = true
    topologyChangedSincePendingRetry = true
    var out: [AgentDirective] = []
    let tags = Invalidation.tags(old: old, new: new)
    if !tags.isEmpty { out.append(.invalidate(FlowTagHasher.hash(tags))) }
    switch type {
    case .bridge where new == nil:
      macTables[id] = nil
      ipMACTables[id] = nil
    case .router where new == nil:
      arpTables[id] = nil
    case .tunnelZone:
      refreshEndpoints(into: &out)
    case .port:
      // Bound here now, bound elsewhere before: its state is on its way (the hand-over).
      if let before = (old as? Port)?.hostId, before != hostID,
        (new as? Port)?.hostId == hostID
      {
        movedFrom[id] = before
      }
    default:
      break
    }
    return (TopologyApplied(old: old, new: new, changed: true), out)
  }

  /// Where this host takes tunnel datagrams from: the endpoints of the alive hosts that
  /// share a tunnel zone with it. Anything else on the underlay is dropped before it is
  /// looked at (docs/security.md).
  /// A member whose liveness is not known yet (its watch has not answered) counts as
  /// alive: a host that just started must not drop its peers' first datagrams.
  public var tunnelPeers: Set<TunnelEndpoint> {
    tunnelZoneMembers.reduce(into: Set<TunnelEndpoint>()) { peers, member in
      if aliveHosts.contains(member.key) || !livenessKnown.contains(member.key) {
        peers.insert(member.value)
      }
    }
  }

  /// The other hosts that share a tunnel zone with this one, and their endpoints (the
  /// agent watches whether each is alive).
  public var tunnelZoneMembers: [ID: TunnelEndpoint] {
    var members: [ID: TunnelEndpoint] = [:]
    for zone in snapshot.tunnelZones.values where zone.members[hostID] != nil {
      for (host, endpoint) in zone.members where host != hostID {
        members[host] = TunnelEndpoint(address: endpoint.address, port: endpoint.port)
      }
    }
    return members
  }

  /// Tunnel endpoints from every tunnel zone; flows toward a host whose endpoint moved
  /// are invalidated through the ports it serves.
  mutating func refreshEndpoints(into out: inout [AgentDirective]) {
    var fresh: [ID: TunnelEndpoint] = [:]
    for zone in snapshot.tunnelZones.values {
      for (host, endpoint) in zone.members {
        fresh[host] = TunnelEndpoint(address: endpoint.address, port: endpoint.port)
      }
    }
    let changed = Set(fresh.keys).union(endpoints.keys).filter { fresh[$0] != endpoints[$0] }
    guard !changed.isEmpty else { return }
    endpoints = fresh
    cachedTranslator = nil
    let tags = portsServed(by: changed).map { FlowTag.port($0) }
    if !tags.isEmpty { out.append(.invalidate(FlowTagHasher.hash(tags))) }
  }

  // MARK: Port activity and host liveness

  /// The exterior ports active on one of `hosts`.
  public func portsServed(by hosts: Set<ID>) -> [ID] {
    guard !hosts.isEmpty else { return [] }
    return activations.filter { hosts.contains($0.value.host) }.map(\.key)
  }

  /// A port's published activity (nil: inactive).
  public mutating func setActivation(_ port: ID, _ activation: PortActivation?)
    -> [AgentDirective]
  {
    guard activations[port] != activation else { return [] }
    activations[port] = activation
    var out: [AgentDirective] = []
    refreshActivePort(port, into: &out)
    return out
  }

  /// A host's liveness: the ports it serves are reachable only while it is alive.
  public mutating func setAlive(_ host: ID, _ alive: Bool) -> [AgentDirective] {
    livenessKnown.insert(host)
    guard aliveHosts.contains(host) != alive else { return [] }
    if alive { aliveHosts.insert(host) } else { aliveHosts.remove(host) }
    var out: [AgentDirective] = []
    for port in portsServed(by: [host]) { refreshActivePort(port, into: &out) }
    // Its leases die with it: blocks of bindings here that it held are leased here now.
    if !alive { adoptOrphanedNATBlocks(into: &out) }
    return out
  }

  /// Puts a port's activity into the view: active only while its host is alive.
  mutating func refreshActivePort(_ port: ID, into out: inout [AgentDirective]) {
    let value = activations[port].flatMap { aliveHosts.contains($0.host) ? $0 : nil }
    guard view.activePorts[port] != value else { return }
    view.activePorts[port] = value
    out.append(.invalidate([FlowTagHasher.hash(.port(port))]))
    topologyChangedSincePendingRetry = true
  }

  // MARK: Replicated state tables

  /// A bridge's MAC table as replicated from the NSDB. A MAC this host learned stays in
  /// the view while the NSDB catches up (the write is queued), so it is not invalidated
  /// by its own echo.
  public mutating func applyMACTable(_ bridge: ID, _ table: [MACAddress: ID])
    -> [AgentDirective]
  {
    let old = macTables[bridge] ?? [:]
    macTables[bridge] = table
    var tags: [FlowTag] = []
    for mac in Set(old.keys).union(table.keys) where old[mac] != table[mac] {
      let key = MACTableKey(bridge: bridge, vlan: 0, mac: mac)
      guard view.macTable[key] != table[mac] else { continue }
      if let port = table[mac] {
        view.macTable[key] = port
      } else if !learnedMACs.keys.contains(where: { $0.bridge == bridge && $0.mac == mac }) {
        view.macTable[key] = nil
      }
      tags.append(.bridgeMAC(bridge: bridge, vlan: 0, mac: mac))
    }
    return tags.isEmpty ? [] : [.invalidate(FlowTagHasher.hash(tags))]
  }

  /// A bridge's IP→MAC table (ARP suppression). ARP is never cached in flows, so only
  /// the bridge's own flows could depend on it.
  public mutating func applyIPMACTable(_ bridge: ID, _ table: [IPv4Address: MACAddress])
    -> [AgentDirective]
  {
    let old = ipMACTables[bridge] ?? [:]
    ipMACTables[bridge] = table
    var changed = false
    for ip in Set(old.keys).union(table.keys) where old[ip] != table[ip] {
      view.bridgeIPTable[DeviceIPKey(device: bridge, ip: ip)] = table[ip]
      changed = true
    }
    return changed ? [.invalidate([FlowTagHasher.hash(.device(bridge))])] : []
  }

  /// A router's ARP table: changed entries invalidate their flows, and packets waiting
  /// for a new entry are simulated again.
  public mutating func applyARPTable(
    _ router: ID, _ table: [IPv4Address: MACAddress], now: ContinuousClock.Instant
  ) -> [AgentDirective] {
    let old = arpTables[router] ?? [:]
    arpTables[router] = table
    var tags: [FlowTag] = []
    var released: [PendingPacket] = []
    for ip in Set(old.keys).union(table.keys) where old[ip] != table[ip] {
      let key = DeviceIPKey(device: router, ip: ip)
      let mac = table[ip]
      guard view.arpTable[key] != mac else { continue }
      view.arpTable[key] = mac
      tags.append(.arpEntry(router: router, ip: ip))
      if mac != nil { released += takePending(arp: key) }
    }
    var out: [AgentDirective] = tags.isEmpty ? [] : [.invalidate(FlowTagHasher.hash(tags))]
    run(released, retry: true, now: now, into: &out)
    return out
  }
}

extension ModelObject {
  /// Equality across an existential: false for objects of different types.
  func isEqual(to other: any ModelObject) -> Bool {
    guard let other = other as? Self else { return false }
    return self == other
  }
}
