import Topology

/// `midgectl k8s apply --prune` must delete what an earlier translation made
/// and the manifests no longer name, but nothing else: the NSDB's prune
/// deletes every object the desired topology lacks, so the desired topology
/// for it is the current one without the translated objects, plus this
/// translation.
///
/// Translated objects are recognised by name (`k8s-` bridges, the
/// `k8s-router`, `k8s-` chains and address groups), and their parts by
/// owner: ports of those devices named `k8s-…` or `<ns>/<pod>`, rules of
/// those chains, connected routes, DHCP subnets of those bridges. Hosts and
/// anything an operator added (an uplink port on `k8s-router`, say) stay,
/// with their references.
extension K8sTranslation {
  public func desired(pruning current: TopologySnapshot) -> TopologySnapshot {
    let owned = Ownership(current)
    var result = TopologySnapshot()
    result.tunnelZones = current.tunnelZones
    result.portGroups = current.portGroups
    result.hosts = current.hosts
    result.bridges = current.bridges.filter { !owned.bridges.contains($0.key) }
    result.routers = current.routers.filter { !owned.routers.contains($0.key) }
    result.chains = current.chains.filter { !owned.chains.contains($0.key) }
    result.ipAddrGroups = current.ipAddrGroups.filter {
      !K8sNames.isTranslated(name: $0.value.name)
    }
    result.ports = current.ports.filter { !owned.ports.contains($0.key) }
    result.rules = current.rules.filter { !owned.chains.contains($0.value.chainId) }
    result.routes = current.routes.filter { !owned.routes.contains($0.key) }
    result.dhcps = current.dhcps.filter { !owned.bridges.contains($0.value.bridgeId) }

    for (id, host) in result.hosts {
      result.hosts[id]?.portIds = host.portIds.filter { !owned.ports.contains($0) }
    }
    func merge<T: ModelObject>(_ objects: [ID: T]) {
      for object in objects.values { result.insert(object) }
    }
    merge(snapshot.bridges)
    merge(snapshot.routers)
    merge(snapshot.chains)
    merge(snapshot.rules)
    merge(snapshot.ipAddrGroups)
    merge(snapshot.ports)
    merge(snapshot.routes)
    merge(snapshot.dhcps)
    for host in snapshot.hosts.values {
      var merged = result.hosts[host.id] ?? Host(id: host.id, name: host.name)
      merged.portIds = (merged.portIds + host.portIds.filter { !merged.portIds.contains($0) })
      result.hosts[host.id] = merged
    }
    // Ports and routes someone else put on the translated devices stay there.
    for port in result.ports.values where snapshot.ports[port.id] == nil {
      switch port.device {
      case .bridge(let id) where snapshot.bridges[id] != nil:
        result.bridges[id]?.portIds.append(port.id)
      case .router(let id) where snapshot.routers[id] != nil:
        result.routers[id]?.portIds.append(port.id)
      default: break
      }
    }
    for route in result.routes.values
    where snapshot.routes[route.id] == nil && snapshot.routers[route.routerId] != nil {
      result.routers[route.routerId]?.routeIds.append(route.id)
    }
    return result
  }
}

/// The translated objects of a topology, by id.
struct Ownership {
  var bridges: Set<ID> = []
  var routers: Set<ID> = []
  var chains: Set<ID> = []
  var ports: Set<ID> = []
  var routes: Set<ID> = []

  init(_ topology: TopologySnapshot) {
    bridges = Set(topology.bridges.values.filter { K8sNames.isTranslated(name: $0.name) }.map(\.id))
    routers = Set(topology.routers.values.filter { $0.name == K8sNames.router }.map(\.id))
    chains = Set(topology.chains.values.filter { K8sNames.isTranslated(name: $0.name) }.map(\.id))
    for port in topology.ports.values {
      let onOwned =
        port.bridgeId.map(bridges.contains) ?? port.routerId.map(routers.contains) ?? false
      if onOwned && (K8sNames.isTranslated(name: port.name) || port.name.contains("/")) {
        ports.insert(port.id)
      }
    }
    for route in topology.routes.values
    where routers.contains(route.routerId) && route.nextHopPortId.map(ports.contains) == true {
      routes.insert(route.id)
    }
  }
}

extension K8sTranslation {
  /// The translation to apply without pruning: nodes that are hosts already keep their
  /// tunnel-zone membership (the manifests say nothing of tunnels, and the agent writes
  /// no model objects, so a membership lost here would stay lost).
  public func desired(keepingHostsOf current: TopologySnapshot) -> TopologySnapshot {
    var result = snapshot
    for id in snapshot.hosts.keys {
      guard let existing = current.hosts[id], !existing.tunnelZoneIds.isEmpty else { continue }
      result.hosts[id]?.tunnelZoneIds = existing.tunnelZoneIds
      for zone in existing.tunnelZoneIds {
        guard let stored = current.tunnelZones[zone] else { continue }
        result.tunnelZones[zone] = stored
        for member in stored.hostIds where result.hosts[member] == nil {
          if let host = current.hosts[member] { result.hosts[member] = host }
        }
      }
    }
    return result
  }
}
