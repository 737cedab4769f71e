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
  func only(_ type: ModelType, named name: String) -> TopologySnapshot {
    var result = TopologySnapshot()
    switch type {
    case .bridge:
      for bridge in bridges.values where bridge.name == name {
        result.bridges[bridge.id] = bridge
        for id in bridge.portIds { result.ports[id] = ports[id] }
      }
      for port in result.ports.values {
        if let host = port.hostId { result.hosts[host] = hosts[host] }
        if let peer = port.peerId { result.ports[peer] = ports[peer] }
      }
    case .router:
      for router in routers.values where router.name == name {
        result.routers[router.id] = router
        for id in router.portIds { result.ports[id] = ports[id] }
        for id in router.routeIds { result.routes[id] = routes[id] }
      }
    case .chain:
      for chain in chains.values where chain.name == name {
        result.chains[chain.id] = chain
        for id in chain.ruleIds { result.rules[id] = rules[id] }
      }
    default:
      return self
    }
    return result
  }
}
