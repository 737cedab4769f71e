import Topology

extension SnapshotBuilder {
  static let ruleKeys: Set<String> = [
    "action", "jump", "targets", "inPorts", "outPorts", "portGroup", "dlSrc", "dlDst", "dlType",
    "nwSrc", "nwDst", "nwProto", "nwTos", "tpSrc", "tpDst", "ipAddrGroupSrc", "ipAddrGroupDst",
    "forwardFlow", "returnFlow", "fragments", "not",
  ]

  /// Condition fields that `not: [...]` may invert.
  static let invertible: Set<String> = [
    "inPorts", "outPorts", "portGroup", "dlSrc", "dlDst", "dlType", "nwSrc", "nwDst", "nwProto",
    "nwTos", "tpSrc", "tpDst", "ipAddrGroupSrc", "ipAddrGroupDst",
  ]

  func readChain(_ field: Field) {
    let f = reader.mapping(field, allowed: ["name", "rules"])
    guard let name = reader.name(f, in: field), let id = declare(.chain, name, field)
    else {
      return
    }
    var chain = Chain(id: id, name: name)
    for (index, ruleField) in reader.list(f["rules"]).enumerated() {
      let ruleID = ID(name: "Rule/\(name)/\(index)")
      if let rule = readRule(ruleField, id: ruleID, chain: id) {
        snapshot.rules[ruleID] = rule
        chain.ruleIds.append(ruleID)
      }
    }
    snapshot.chains[id] = chain
  }

  func readRule(_ field: Field, id: ID, chain: ID) -> Rule? {
    let f = reader.mapping(field, allowed: Self.ruleKeys)
    guard let actionName = reader.required(f, "action", in: field) else { return nil }
    var inverted = Set<String>()
    for item in reader.list(f["not"]) {
      guard let name = reader.string(item) else { continue }
      if Self.invertible.contains(name) {
        inverted.insert(name)
      } else {
        reader.fail(
          item, item.path,
          "'\(name)' cannot be inverted (one of: \(Self.invertible.sorted().joined(separator: ", ")))"
        )
      }
    }
    var c = Condition()
    c.inPortIds = reader.list(f["inPorts"]).compactMap { reference(.port, $0) }
    c.invInPorts = inverted.contains("inPorts")
    c.outPortIds = reader.list(f["outPorts"]).compactMap { reference(.port, $0) }
    c.invOutPorts = inverted.contains("outPorts")
    c.portGroupId = reference(.portGroup, f["portGroup"])
    c.invPortGroup = inverted.contains("portGroup")
    c.dlSrc = reader.mac(f["dlSrc"])
    c.invDlSrc = inverted.contains("dlSrc")
    c.dlDst = reader.mac(f["dlDst"])
    c.invDlDst = inverted.contains("dlDst")
    c.dlType = reader.int(f["dlType"], UInt16.self)
    c.invDlType = inverted.contains("dlType")
    c.nwSrc = reader.network(f["nwSrc"])
    c.invNwSrc = inverted.contains("nwSrc")
    c.nwDst = reader.network(f["nwDst"])
    c.invNwDst = inverted.contains("nwDst")
    c.nwProto = protocolNumber(f["nwProto"])
    c.invNwProto = inverted.contains("nwProto")
    c.nwTos = reader.int(f["nwTos"], UInt8.self)
    c.invNwTos = inverted.contains("nwTos")
    c.tpSrc = reader.portRange(f["tpSrc"])
    c.invTpSrc = inverted.contains("tpSrc")
    c.tpDst = reader.portRange(f["tpDst"])
    c.invTpDst = inverted.contains("tpDst")
    c.ipAddrGroupIdSrc = reference(.ipAddrGroup, f["ipAddrGroupSrc"])
    c.invIpAddrGroupIdSrc = inverted.contains("ipAddrGroupSrc")
    c.ipAddrGroupIdDst = reference(.ipAddrGroup, f["ipAddrGroupDst"])
    c.invIpAddrGroupIdDst = inverted.contains("ipAddrGroupDst")
    c.matchForwardFlow = reader.bool(f["forwardFlow"]) ?? false
    c.matchReturnFlow = reader.bool(f["returnFlow"]) ?? false
    if let fragments = reader.string(f["fragments"]) {
      if let policy = FragmentPolicy(rawValue: fragments) {
        c.fragmentPolicy = policy
      } else {
        reader.fail(
          f["fragments"], "\(field.path).fragments",
          "'\(fragments)' is not one of any, header, nonheader, unfragmented")
      }
    }
    guard let action = readAction(actionName, f, field) else { return nil }
    return Rule(id: id, chainId: chain, condition: c, action: action)
  }

  func readAction(_ name: String, _ f: [String: Field], _ field: Field) -> RuleAction? {
    switch name {
    case "accept": return .accept
    case "drop": return .drop
    case "reject": return .reject
    case "return": return .return
    case "continue": return .continue
    case "rev_dnat": return .reverseDNAT
    case "rev_snat": return .reverseSNAT
    case "jump":
      guard let chain = reference(.chain, f["jump"]) else {
        reader.fail(field, "\(field.path).jump", "a jump rule needs the chain to jump to")
        return nil
      }
      return .jump(chainId: chain)
    case "dnat", "snat":
      var targets: [NatTarget] = []
      for target in reader.list(f["targets"]) {
        let t = reader.mapping(target, allowed: ["address", "ports"])
        guard let (low, high) = reader.addressRange(t["address"]) else {
          if t["address"] == nil {
            reader.fail(target, "\(target.path).address", "required field is missing")
          }
          continue
        }
        let ports = reader.portRange(t["ports"]) ?? (name == "snat" ? 1024...65535 : 0...0)
        targets.append(
          NatTarget(
            addressFrom: low, addressTo: high, portFrom: ports.lowerBound, portTo: ports.upperBound)
        )
      }
      if targets.isEmpty {
        reader.fail(field, "\(field.path).targets", "a \(name) rule needs at least one target")
        return nil
      }
      return name == "dnat" ? .dnat(targets: targets) : .snat(targets: targets)
    default:
      reader.fail(
        f["action"], "\(field.path).action",
        "'\(name)' is not one of accept, drop, reject, return, continue, jump, dnat, snat, rev_dnat, rev_snat"
      )
      return nil
    }
  }

  func protocolNumber(_ field: Field?) -> UInt8? {
    guard let text = reader.string(field) else { return nil }
    switch text.lowercased() {
    case "icmp": return 1
    case "tcp": return 6
    case "udp": return 17
    default: return reader.int(field, UInt8.self)
    }
  }
}

extension SnapshotBuilder {
  /// Explicit keys are kept; ports that exist keep theirs; new ports get
  /// the lowest keys no other port uses.
  func assignTunnelKeys(existing: [ID: UInt32]) {
    var used = Set<UInt32>()
    var owner: [UInt32: ID] = [:]
    for (id, (key, field)) in explicitKeys {
      if key == 0 {
        reader.fail(field, field.path, "tunnel key 0 is reserved")
        continue
      }
      if let other = owner[key] {
        reader.fail(
          field, field.path,
          "tunnel key \(key) is also used by port '\(snapshot.ports[other]?.name ?? "?")'")
      }
      owner[key] = id
      used.insert(key)
      snapshot.ports[id]?.tunnelKey = key
    }
    for id in portOrder where explicitKeys[id] == nil {
      if let key = existing[id], !used.contains(key) {
        snapshot.ports[id]?.tunnelKey = key
        used.insert(key)
      }
    }
    // Keys held by ports outside this file stay theirs.
    for (id, key) in existing where snapshot.ports[id] == nil { used.insert(key) }
    var next: UInt32 = 1
    for id in portOrder where snapshot.ports[id]?.tunnelKey == 0 {
      while used.contains(next) { next += 1 }
      snapshot.ports[id]?.tunnelKey = next
      used.insert(next)
    }
  }

  /// A route's port is one of its router's ports, and its gateway is a neighbour on that
  /// port's subnet (not the port's own address).
  func checkRouteGateways() {
    for check in routeChecks {
      guard let port = snapshot.ports[check.port] else { continue }  // reported as unresolved
      guard port.device == .router(check.router) else {
        reader.fail(
          check.portField, check.portField.path,
          "'\(port.name)' is not a port of router '\(check.routerName)'")
        continue
      }
      guard let gateway = check.gateway, let subnet = port.portSubnet else { continue }
      if !subnet.contains(gateway) {
        reader.fail(
          check.gatewayField, check.gatewayField?.path ?? check.portField.path,
          "gateway \(gateway) is not on port '\(port.name)''s subnet \(subnet)")
      } else if gateway == port.portAddress {
        reader.fail(
          check.gatewayField, check.gatewayField?.path ?? check.portField.path,
          "gateway \(gateway) is port '\(port.name)''s own address")
      }
    }
  }

  /// Resolves references, fills back-references, checks the whole.
  func finish() {
    for (field, type, name) in pendingReferences where declared[type]?[name] == nil {
      reader.fail(field, field.path, "no \(type.rawValue) is named '\(name)'")
    }
    for (index, a) in routerSubnets.enumerated() {
      for b in routerSubnets[(index + 1)...] where a.router == b.router {
        if a.prefix.contains(b.prefix) || b.prefix.contains(a.prefix) {
          reader.fail(
            b.field, b.field.path,
            "\(b.prefix) overlaps \(a.prefix) (line \(a.field.line ?? 0)) on router '\(a.router)'")
        }
      }
    }
    checkRouteGateways()
    guard reader.errors.isEmpty else { return }
    for id in portOrder {
      guard let port = snapshot.ports[id] else { continue }
      switch port.device {
      case .bridge(let bridge): snapshot.bridges[bridge]?.portIds.append(id)
      case .router(let router): snapshot.routers[router]?.portIds.append(id)
      }
      if let host = port.hostId { snapshot.hosts[host]?.portIds.append(id) }
      for candidate in port.candidates {
        snapshot.hosts[candidate.hostId]?.candidatePortIds.append(id)
      }
      for group in port.portGroupIds { snapshot.portGroups[group]?.portIds.append(id) }
    }
    // A host's ports by id, as for a zone's members: the order the file lists its bridges
    // in is not part of the topology (an export writes them by name).
    for id in snapshot.hosts.keys {
      snapshot.hosts[id]?.portIds.sort()
      snapshot.hosts[id]?.candidatePortIds.sort()
    }
    for route in snapshot.routes.values.sorted(by: { $0.id < $1.id }) {
      snapshot.routers[route.routerId]?.routeIds.append(route.id)
      if let port = route.nextHopPortId { snapshot.ports[port]?.routeIds.append(route.id) }
    }
    for problem in snapshot.validate() {
      reader.fail(nil, "\(problem.objectType.rawValue) \(problem.field)", problem.message)
    }
  }
}
