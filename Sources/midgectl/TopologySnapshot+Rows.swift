import Topology

extension TopologySnapshot {
  /// The objects of `type` as table rows, sorted by name.
  func rows(_ type: ModelType) -> [Row] {
    func name(_ id: ID?) -> String {
      guard let id else { return "" }
      return bridges[id]?.name ?? routers[id]?.name ?? ports[id]?.name ?? chains[id]?.name
        ?? hosts[id]?.name ?? id.description
    }
    var rows: [Row] = []
    switch type {
    case .bridge:
      rows = bridges.values.map {
        Row(
          type: "Bridge", name: $0.name, id: "\($0.id)", details: ["ports": "\($0.portIds.count)"])
      }
    case .router:
      rows = routers.values.map {
        Row(
          type: "Router", name: $0.name, id: "\($0.id)",
          details: ["ports": "\($0.portIds.count)", "routes": "\($0.routeIds.count)"])
      }
    case .port:
      rows = ports.values.map { port in
        var details = ["device": name(port.device.id), "key": "\(port.tunnelKey)"]
        if let host = port.hostId { details["host"] = name(host) }
        if let interface = port.interfaceName { details["interface"] = interface }
        if let peer = port.peerId { details["peer"] = name(peer) }
        if let address = port.portAddress { details["address"] = "\(address)" }
        return Row(type: "Port", name: port.name, id: "\(port.id)", details: details)
      }
    case .route:
      rows = routes.values.map { route in
        Row(
          type: "Route", name: "\(route.dstPrefix)", id: "\(route.id)",
          details: [
            "router": name(route.routerId), "via": name(route.nextHopPortId),
            "gateway": route.nextHopGateway.map { "\($0)" } ?? "", "type": route.nextHop.rawValue,
          ])
      }
    case .chain:
      rows = chains.values.map {
        Row(type: "Chain", name: $0.name, id: "\($0.id)", details: ["rules": "\($0.ruleIds.count)"])
      }
    case .rule:
      rows = rules.values.map {
        Row(
          type: "Rule", name: "\($0.id)", id: "\($0.id)",
          details: ["chain": name($0.chainId), "action": "\($0.action)"])
      }
    case .host:
      rows = hosts.values.map {
        Row(type: "Host", name: $0.name, id: "\($0.id)", details: ["ports": "\($0.portIds.count)"])
      }
    case .tunnelZone:
      rows = tunnelZones.values.map {
        Row(
          type: "TunnelZone", name: $0.name, id: "\($0.id)",
          details: ["hosts": "\($0.hostIds.count)"])
      }
    case .portGroup:
      rows = portGroups.values.map {
        Row(
          type: "PortGroup", name: $0.name, id: "\($0.id)",
          details: ["ports": "\($0.portIds.count)"])
      }
    case .ipAddrGroup:
      rows = ipAddrGroups.values.map {
        Row(
          type: "IPAddrGroup", name: $0.name, id: "\($0.id)",
          details: ["addresses": "\($0.addresses.count)"])
      }
    case .dhcp:
      rows = dhcps.values.map {
        Row(
          type: "Dhcp", name: "\($0.subnet)", id: "\($0.id)", details: ["bridge": name($0.bridgeId)]
        )
      }
    }
    return rows.sorted { ($0.name, $0.id) < ($1.name, $1.id) }
  }

  /// The part of the topology a YAML `get` of one object shows.
  /// The objects of `type` (only the one called `name`, when given) with what the topology
  /// file needs to render them: a bridge's or router's ports, a chain's rules, the device
  /// a port, route or DHCP subnet belongs to (holding only those), a zone's hosts.
  func only(_ type: ModelType, named name: String?) -> TopologySnapshot {
    let wanted = Set(rows(type).filter { name == nil || $0.name == name }.compactMap { ID($0.id) })
    var result = TopologySnapshot()
    func keepPorts(_ ids: [ID]) {
      for id in ids {
        guard let port = ports[id] else { continue }
        result.ports[id] = port
        if let host = port.hostId { result.hosts[host] = hosts[host] }
        for candidate in port.candidates {
          result.hosts[candidate.hostId] = hosts[candidate.hostId]
        }
        if let peer = port.peerId { result.ports[peer] = ports[peer] }
      }
    }
    switch type {
    case .bridge:
      for id in wanted {
        result.bridges[id] = bridges[id]
        keepPorts(bridges[id]?.portIds ?? [])
        for dhcp in bridges[id]?.dhcpIds ?? [] { result.dhcps[dhcp] = dhcps[dhcp] }
      }
    case .router:
      for id in wanted {
        result.routers[id] = routers[id]
        keepPorts(routers[id]?.portIds ?? [])
        for route in routers[id]?.routeIds ?? [] { result.routes[route] = routes[route] }
      }
    case .port:
      keepPorts(Array(wanted))
      for id in wanted {
        guard let port = ports[id] else { continue }
        switch port.device {
        case .bridge(let bridge):
          var device = result.bridges[bridge] ?? bridges[bridge]
          let keptPortids = (device?.portIds ?? []).filter { result.ports[$0] != nil }
          device?.portIds = keptPortids
          result.bridges[bridge] = device
        case .router(let router):
          var device = result.routers[router] ?? routers[router]
          let keptPortids = (device?.portIds ?? []).filter { result.ports[$0] != nil }
          device?.portIds = keptPortids
          device?.routeIds = []
          result.routers[router] = device
        }
      }
    case .route:
      for id in wanted {
        guard let route = routes[id] else { continue }
        result.routes[id] = route
        var router = result.routers[route.routerId] ?? routers[route.routerId]
        let keptRouteids = (router?.routeIds ?? []).filter { wanted.contains($0) }
        router?.routeIds = keptRouteids
        result.routers[route.routerId] = router
        keepPorts(router?.portIds ?? [])
      }
    case .chain:
      for id in wanted {
        result.chains[id] = chains[id]
        for rule in chains[id]?.ruleIds ?? [] { result.rules[rule] = rules[rule] }
      }
    case .rule:
      for id in wanted {
        guard let rule = rules[id] else { continue }
        result.rules[id] = rule
        var chain = result.chains[rule.chainId] ?? chains[rule.chainId]
        let keptRuleids = (chain?.ruleIds ?? []).filter { wanted.contains($0) }
        chain?.ruleIds = keptRuleids
        result.chains[rule.chainId] = chain
      }
    case .host:
      for id in wanted { result.hosts[id] = hosts[id] }
    case .tunnelZone:
      for id in wanted {
        result.tunnelZones[id] = tunnelZones[id]
        for host in tunnelZones[id]?.hostIds ?? [] { result.hosts[host] = hosts[host] }
      }
    case .portGroup:
      for id in wanted { result.portGroups[id] = portGroups[id] }
    case .ipAddrGroup:
      for id in wanted { result.ipAddrGroups[id] = ipAddrGroups[id] }
    case .dhcp:
      for id in wanted {
        guard let dhcp = dhcps[id] else { continue }
        result.dhcps[id] = dhcp
        var bridge = result.bridges[dhcp.bridgeId] ?? bridges[dhcp.bridgeId]
        bridge?.portIds = []
        let keptDhcpids = (bridge?.dhcpIds ?? []).filter { wanted.contains($0) }
        bridge?.dhcpIds = keptDhcpids
        result.bridges[dhcp.bridgeId] = bridge
      }
    }
    return result
  }
}
