import Addresses
import Topology

extension TopologyFile {
  /// Writes `snapshot` in the file format, so that `parse` gives it back
  /// exactly: generated objects (connected routes, link ports) are written as
  /// what generates them, tunnel keys and MACs are explicit.
  public static func render(_ snapshot: TopologySnapshot) -> String {
    var out = YAMLWriter()
    let ports = snapshot.ports
    func name(_ id: ID?, _ type: ModelType) -> String? {
      guard let id else { return nil }
      switch type {
      case .chain: return snapshot.chains[id]?.name
      case .host: return snapshot.hosts[id]?.name
      case .tunnelZone: return snapshot.tunnelZones[id]?.name
      case .port: return ports[id]?.name
      case .portGroup: return snapshot.portGroups[id]?.name
      case .ipAddrGroup: return snapshot.ipAddrGroups[id]?.name
      case .bridge: return snapshot.bridges[id]?.name
      default: return id.description
      }
    }
    let linkPorts = Set(
      ports.values.filter { port in
        guard let peer = port.peerId.flatMap({ ports[$0] }) else { return false }
        return port.name == linkPortName(peer.name) && peer.device.modelType == .router
      }.map(\.id))

    out.section("tunnelZones", snapshot.tunnelZones.values.sorted { $0.name < $1.name }) {
      w, zone in
      w.field("name", zone.name, first: true)
    }
    out.section("hosts", snapshot.hosts.values.sorted { $0.name < $1.name }) { w, host in
      w.field("name", host.name, first: true)
      if let zone = host.tunnelZoneIds.first,
        let endpoint = snapshot.tunnelZones[zone]?.members[host.id]
      {
        w.field("tunnelZone", name(zone, .tunnelZone))
        w.field("address", endpoint.address.description)
        w.field("port", "\(endpoint.port)")
      }
    }
    out.section("portGroups", snapshot.portGroups.values.sorted { $0.name < $1.name }) { w, group in
      w.field("name", group.name, first: true)
      if group.stateful { w.field("stateful", "true") }
    }
    out.section("ipAddrGroups", snapshot.ipAddrGroups.values.sorted { $0.name < $1.name }) {
      w, group in
      w.field("name", group.name, first: true)
      w.list("addresses", group.addresses.map(\.description))
    }
    // Chains generated for floating IPs are written as the floating IPs.
    var generated: [ID: (router: ID, pre: Bool)] = [:]
    for router in snapshot.routers.values {
      if let id = router.inboundFilterId,
        snapshot.chains[id]?.name == SnapshotBuilder.preChainName(router.name)
      {
        generated[id] = (router.id, true)
      }
      if let id = router.outboundFilterId,
        snapshot.chains[id]?.name == SnapshotBuilder.postChainName(router.name)
      {
        generated[id] = (router.id, false)
      }
    }
    /// A router's own filter: behind the generated chain's final jump, if any.
    func ownFilter(_ chain: ID?) -> ID? {
      guard let chain, generated[chain] != nil else { return chain }
      guard let last = snapshot.chains[chain]?.ruleIds.last.flatMap({ snapshot.rules[$0] }),
        case .jump(let target) = last.action
      else { return nil }
      return target
    }
    let userChains = snapshot.chains.values.filter { generated[$0.id] == nil }
    out.section("chains", userChains.sorted { $0.name < $1.name }) { w, chain in
      w.field("name", chain.name, first: true)
      w.nested("rules", chain.ruleIds.compactMap { snapshot.rules[$0] }) { w, rule in
        renderRule(rule, into: &w, name: name)
      }
    }
    out.section("bridges", snapshot.bridges.values.sorted { $0.name < $1.name }) { w, bridge in
      w.field("name", bridge.name, first: true)
      if !bridge.adminStateUp { w.field("adminUp", "false") }
      w.field("inboundFilter", name(bridge.inboundFilterId, .chain))
      w.field("outboundFilter", name(bridge.outboundFilterId, .chain))
      w.field("vni", bridge.vni.map { "\($0)" })
      if let dhcp = bridge.dhcpIds.first.flatMap({ snapshot.dhcps[$0] }) {
        w.block("dhcp") { w in
          w.field("subnet", dhcp.subnet.description)
          w.field("gateway", dhcp.gateway?.description)
          w.list("dns", dhcp.dnsServers.map(\.description))
          w.nested("hosts", dhcp.hosts) { w, host in
            w.field("mac", host.mac.description, first: true)
            w.field("ip", host.ip.description)
            if !host.name.isEmpty { w.field("name", host.name) }
          }
        }
      }
      let own = bridge.portIds.compactMap { ports[$0] }.filter { !linkPorts.contains($0.id) }
      w.nested("ports", own) { w, port in renderPort(port, into: &w, name: name) }
    }
    out.section("routers", snapshot.routers.values.sorted { $0.name < $1.name }) { w, router in
      w.field("name", router.name, first: true)
      if !router.adminStateUp { w.field("adminUp", "false") }
      w.field("inboundFilter", name(ownFilter(router.inboundFilterId), .chain))
      w.field("outboundFilter", name(ownFilter(router.outboundFilterId), .chain))
      w.field("forwardFilter", name(router.forwardFilterId, .chain))
      w.nested("ports", router.portIds.compactMap { ports[$0] }) { w, port in
        renderPort(port, into: &w, name: name)
        if let subnet = port.portSubnet, let address = port.portAddress {
          w.field("address", "\(address)/\(subnet.length)")
        }
        w.field("mac", port.portMAC?.description)
        if let link = port.peerId.flatMap({ ports[$0] }), linkPorts.contains(link.id) {
          w.field("link", name(link.device.id, .bridge))
        }
      }
      let routes = inFileOrder(
        router.routeIds.compactMap { snapshot.routes[$0] }.filter { route in
          !(route.nextHopPortId.flatMap { ports[$0] }.map {
            route.id == connectedRouteID(router: router.name, port: $0.name)
          } ?? false)
        }, router: router.name)
      w.nested("routes", routes) { w, route in
        w.field("dst", route.dstPrefix.description, first: true)
        if route.srcPrefix != .all { w.field("src", route.srcPrefix.description) }
        if route.nextHop != .port { w.field("type", route.nextHop.rawValue) }
        w.field("port", name(route.nextHopPortId, .port))
        w.field("gateway", route.nextHopGateway?.description)
        if route.weight != 100 { w.field("weight", "\(route.weight)") }
      }
      let floating = router.inboundFilterId.flatMap {
        generated[$0] != nil ? snapshot.chains[$0] : nil
      }
      let dnats = (floating?.ruleIds ?? []).compactMap { snapshot.rules[$0] }.compactMap {
        rule -> (IPv4Prefix, NatTarget, ID?)? in
        guard case .dnat(let targets) = rule.action, let target = targets.first,
          let external = rule.condition.nwDst
        else { return nil }
        return (external, target, rule.condition.inPortIds.first)
      }
      w.nested("floatingIps", dnats) { w, fip in
        w.field("external", fip.0.address.description, first: true)
        w.field("internal", fip.1.addressFrom.description)
        w.field("port", name(fip.2, .port))
      }
    }
    return out.text
  }

  static func renderPort(_ port: Port, into w: inout YAMLWriter, name: (ID?, ModelType) -> String?)
  {
    w.field("name", port.name, first: true)
    w.field("host", name(port.hostId, .host))
    w.field("interface", port.interfaceName)
    w.field("tunnelKey", "\(port.tunnelKey)")
    if !port.adminStateUp { w.field("adminUp", "false") }
    w.field("inboundFilter", name(port.inboundFilterId, .chain))
    w.field("outboundFilter", name(port.outboundFilterId, .chain))
    w.list("portGroups", port.portGroupIds.compactMap { name($0, .portGroup) })
    w.field("vlan", port.vlanId.map { "\($0)" })
    w.nested("candidates", port.candidates) { w, candidate in
      w.field("host", name(candidate.hostId, .host), first: true)
      w.field("interface", candidate.interfaceName)
      if candidate.priority != 0 { w.field("priority", "\(candidate.priority)") }
    }
  }

  static func renderRule(_ rule: Rule, into w: inout YAMLWriter, name: (ID?, ModelType) -> String?)
  {
    let c = rule.condition
    switch rule.action {
    case .accept: w.field("action", "accept", first: true)
    case .drop: w.field("action", "drop", first: true)
    case .reject: w.field("action", "reject", first: true)
    case .return: w.field("action", "return", first: true)
    case .continue: w.field("action", "continue", first: true)
    case .reverseDNAT: w.field("action", "rev_dnat", first: true)
    case .reverseSNAT: w.field("action", "rev_snat", first: true)
    case .jump(let chain):
      w.field("action", "jump", first: true)
      w.field("jump", name(chain, .chain))
    case .dnat(let targets), .snat(let targets):
      if case .dnat = rule.action {
        w.field("action", "dnat", first: true)
      } else {
        w.field("action", "snat", first: true)
      }
      w.nested("targets", targets) { w, t in
        let address =
          t.addressFrom == t.addressTo ? "\(t.addressFrom)" : "\(t.addressFrom)-\(t.addressTo)"
        w.field("address", address, first: true)
        w.field("ports", t.portFrom == t.portTo ? "\(t.portFrom)" : "\(t.portFrom)-\(t.portTo)")
      }
    }
    var inverted: [String] = []
    func flag(_ set: Bool, _ field: String) { if set { inverted.append(field) } }
    w.list("inPorts", c.inPortIds.compactMap { name($0, .port) })
    flag(c.invInPorts, "inPorts")
    w.list("outPorts", c.outPortIds.compactMap { name($0, .port) })
    flag(c.invOutPorts, "outPorts")
    w.field("portGroup", name(c.portGroupId, .portGroup))
    flag(c.invPortGroup, "portGroup")
    w.field("dlSrc", c.dlSrc?.description)
    flag(c.invDlSrc, "dlSrc")
    w.field("dlDst", c.dlDst?.description)
    flag(c.invDlDst, "dlDst")
    w.field("dlType", c.dlType.map { "\($0)" })
    flag(c.invDlType, "dlType")
    w.field("nwSrc", c.nwSrc?.description)
    flag(c.invNwSrc, "nwSrc")
    w.field("nwDst", c.nwDst?.description)
    flag(c.invNwDst, "nwDst")
    w.field("nwProto", c.nwProto.map { "\($0)" })
    flag(c.invNwProto, "nwProto")
    w.field("nwTos", c.nwTos.map { "\($0)" })
    flag(c.invNwTos, "nwTos")
    w.field("tpSrc", c.tpSrc.map { "\($0.lowerBound)-\($0.upperBound)" })
    flag(c.invTpSrc, "tpSrc")
    w.field("tpDst", c.tpDst.map { "\($0.lowerBound)-\($0.upperBound)" })
    flag(c.invTpDst, "tpDst")
    w.field("ipAddrGroupSrc", name(c.ipAddrGroupIdSrc, .ipAddrGroup))
    flag(c.invIpAddrGroupIdSrc, "ipAddrGroupSrc")
    w.field("ipAddrGroupDst", name(c.ipAddrGroupIdDst, .ipAddrGroup))
    flag(c.invIpAddrGroupIdDst, "ipAddrGroupDst")
    if c.matchForwardFlow { w.field("forwardFlow", "true") }
    if c.matchReturnFlow { w.field("returnFlow", "true") }
    if c.fragmentPolicy != .any { w.field("fragments", c.fragmentPolicy.rawValue) }
    w.list("not", inverted)
  }
}

/// A minimal block-style YAML emitter; every scalar is double-quoted.
struct YAMLWriter {
  var text = ""
  var indent = 0
  /// Set while the next field is the first of a list item (gets the "- ").
  var itemStart = false

  /// A YAML double-quoted scalar for `value`. Escapes go scalar by scalar, not by
  /// `Character`: a quote followed by a combining mark is one `Character`, and escaping
  /// by `Character` left that quote bare (the topology-file fuzzer's fourth find). Control
  /// characters and YAML's own line breaks are written as `\u` escapes, so the value
  /// reads back as it was.
  static func quote(_ value: String) -> String {
    var escaped = "\""
    for scalar in value.unicodeScalars {
      switch scalar {
      case "\"": escaped += "\\\""
      case "\\": escaped += "\\\\"
      case "\n": escaped += "\\n"
      case "\r": escaped += "\\r"
      case "\t": escaped += "\\t"
      default:
        let code = scalar.value
        if code < 0x20 || (0x7F...0x9F).contains(code) || code == 0x2028 || code == 0x2029
          || code == 0xFEFF
        {
          let hex = String(code, radix: 16, uppercase: true)
          escaped += "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
        } else {
          escaped.unicodeScalars.append(scalar)
        }
      }
    }
    return escaped + "\""
  }

  mutating func line(_ content: String, first: Bool) {
    let pad = String(repeating: " ", count: indent)
    if first && itemStart {
      text += String(repeating: " ", count: max(indent - 2, 0)) + "- " + content + "\n"
      itemStart = false
    } else {
      text += pad + content + "\n"
    }
  }

  mutating func field(_ key: String, _ value: String?, first: Bool = false) {
    guard let value else { return }
    line("\(key): \(Self.quote(value))", first: first)
  }

  mutating func list(_ key: String, _ values: [String]) {
    guard !values.isEmpty else { return }
    line("\(key): [\(values.map(Self.quote).joined(separator: ", "))]", first: false)
  }

  mutating func block(_ key: String, _ body: (inout YAMLWriter) -> Void) {
    line("\(key):", first: false)
    indent += 2
    body(&self)
    indent -= 2
  }

  mutating func nested<T>(_ key: String, _ items: [T], _ body: (inout YAMLWriter, T) -> Void) {
    guard !items.isEmpty else { return }
    line("\(key):", first: false)
    indent += 4
    for item in items {
      itemStart = true
      body(&self, item)
    }
    indent -= 4
  }

  mutating func section<T>(_ key: String, _ items: [T], _ body: (inout YAMLWriter, T) -> Void) {
    guard !items.isEmpty else { return }
    text += "\(key):\n"
    indent = 4
    for item in items {
      itemStart = true
      body(&self, item)
    }
    indent = 0
  }

}

extension TopologyFile {
  /// A router's routes in the order a file gave them. A file names its routes by
  /// position (`Route/<router>/<index>`) while the router keeps their ids sorted, so the
  /// export writes a route with a positional id at its position, and routes not made by
  /// a file after them: applying the export gives every route its id back.
  static func inFileOrder(_ routes: [Route], router: String) -> [Route] {
    var position: [ID: Int] = [:]
    for index in 0..<(routes.count * 2 + 16) {
      position[ID(name: "Route/\(router)/\(index)")] = index
    }
    return routes.enumerated().sorted { a, b in
      let (pa, pb) = (position[a.element.id] ?? Int.max, position[b.element.id] ?? Int.max)
      return pa != pb ? pa < pb : a.offset < b.offset
    }.map(\.element)
  }
}
