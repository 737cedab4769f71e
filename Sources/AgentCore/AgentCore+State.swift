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
    _ changes: [StateChange], now: ContinuousClock.Instant, released: inout [DeviceIPKey],
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
        view.apply(change)
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
    for port in [ingress] + result.outputPorts
    where localPorts[port] != nil && !logPorts.contains(port) {
      logPorts.append(port)
    }
    var hosts = Set<ID>()
    for port in result.outputPorts {
      if let active = view.activePorts[port], active.host != hostID { hosts.insert(active.host) }
    }
    for port in [ingress] + result.outputPorts {
      for candidate in snapshot.ports[port]?.candidates ?? [] where candidate.hostId != hostID {
        hosts.insert(candidate.hostId)
      }
    }
    var recipients: [ID: TunnelEndpoint] = [:]
    for host in hosts {
      if let remote = endpoints[host] { recipients[host] = remote }
    }
    out.append(
      .replicate(
        FlowStateCopy(changes: changes, logPorts: logPorts, recipients: recipients, before: number)
      ))
  }

  /// Conntrack and NAT entries from another host or from a port's log join the view.
  public mutating func applyFlowState(_ changes: [StateChange]) {
    view.apply(changes)
  }

  // MARK: Ports attached here

  /// A local port was attached as datapath port `number`: it is active here at once
  /// (the NSDB follows).
  public mutating func attach(_ port: ID, number: UInt32) -> [AgentDirective] {
    localPorts[port] = number
    portIDs[number] = port
    cachedTranslator = nil
    return setActivation(port, PortActivation(host: hostID, tunnelKey: number))
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
    out.append(.invalidate([FlowTagHasher.hash(.port(port))]))
    return out
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
