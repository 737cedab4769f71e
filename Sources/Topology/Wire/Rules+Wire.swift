import Addresses

extension Route: WireCodable {
  public func wireBytes() throws(WireError) -> [UInt8] {
    var m = Midge_Topology_V1_Route()
    m.id = Wire.uuid(id)
    m.routerID = Wire.uuid(routerId)
    m.srcPrefix = Wire.prefix(srcPrefix)
    m.dstPrefix = Wire.prefix(dstPrefix)
    switch nextHop {
    case .port: m.nextHop = .port
    case .blackhole: m.nextHop = .blackhole
    case .reject: m.nextHop = .reject
    case .local: m.nextHop = .local
    }
    if let nextHopPortId { m.nextHopPortID = Wire.uuid(nextHopPortId) }
    if let nextHopGateway { m.nextHopGateway = nextHopGateway.rawValue }
    m.weight = weight
    m.learned = learned
    return try Wire.encode(m)
  }

  public init(wireBytes: [UInt8]) throws(WireError) {
    let m = try Wire.decode(Midge_Topology_V1_Route.self, wireBytes)
    let nextHop: NextHop
    switch m.nextHop {
    case .port: nextHop = .port
    case .blackhole: nextHop = .blackhole
    case .reject: nextHop = .reject
    case .local: nextHop = .local
    case .UNRECOGNIZED(let raw):
      throw WireError(.invalidValue, "Route.nextHop \(raw) is unknown to this version")
    }
    self.init(
      id: try Wire.requiredID(m.hasID, m.id, "Route.id"),
      routerId: try Wire.requiredID(m.hasRouterID, m.routerID, "Route.routerId"),
      srcPrefix: m.hasSrcPrefix ? try Wire.prefix(m.srcPrefix, "Route.srcPrefix") : .all,
      dstPrefix: m.hasDstPrefix ? try Wire.prefix(m.dstPrefix, "Route.dstPrefix") : .all,
      nextHop: nextHop,
      nextHopPortId: m.hasNextHopPortID ? Wire.id(m.nextHopPortID) : nil,
      nextHopGateway: m.hasNextHopGateway ? IPv4Address(rawValue: m.nextHopGateway) : nil,
      weight: m.weight, learned: m.learned)
  }
}

extension Chain: WireCodable {
  public func wireBytes() throws(WireError) -> [UInt8] {
    var m = Midge_Topology_V1_Chain()
    m.id = Wire.uuid(id)
    m.name = name
    m.ruleIds = ruleIds.map(Wire.uuid)
    m.bridgeInboundIds = bridgeInboundIds.map(Wire.uuid)
    m.bridgeOutboundIds = bridgeOutboundIds.map(Wire.uuid)
    m.routerInboundIds = routerInboundIds.map(Wire.uuid)
    m.routerOutboundIds = routerOutboundIds.map(Wire.uuid)
    m.routerForwardIds = routerForwardIds.map(Wire.uuid)
    m.portInboundIds = portInboundIds.map(Wire.uuid)
    m.portOutboundIds = portOutboundIds.map(Wire.uuid)
    return try Wire.encode(m)
  }

  public init(wireBytes: [UInt8]) throws(WireError) {
    let m = try Wire.decode(Midge_Topology_V1_Chain.self, wireBytes)
    self.init(
      id: try Wire.requiredID(m.hasID, m.id, "Chain.id"), name: m.name,
      ruleIds: Wire.ids(m.ruleIds))
    bridgeInboundIds = Wire.ids(m.bridgeInboundIds)
    bridgeOutboundIds = Wire.ids(m.bridgeOutboundIds)
    routerInboundIds = Wire.ids(m.routerInboundIds)
    routerOutboundIds = Wire.ids(m.routerOutboundIds)
    routerForwardIds = Wire.ids(m.routerForwardIds)
    portInboundIds = Wire.ids(m.portInboundIds)
    portOutboundIds = Wire.ids(m.portOutboundIds)
  }
}

extension Rule: WireCodable {
  public func wireBytes() throws(WireError) -> [UInt8] {
    var m = Midge_Topology_V1_Rule()
    m.id = Wire.uuid(id)
    m.chainID = Wire.uuid(chainId)
    m.condition = Wire.condition(condition)
    switch action {
    case .accept: m.action = .accept
    case .drop: m.action = .drop
    case .reject: m.action = .reject
    case .jump(let chain):
      m.action = .jump
      m.jumpChainID = Wire.uuid(chain)
    case .return: m.action = .return
    case .continue: m.action = .continue
    case .dnat(let targets):
      m.action = .dnat
      m.natTargets = targets.map(Wire.natTarget)
    case .snat(let targets):
      m.action = .snat
      m.natTargets = targets.map(Wire.natTarget)
    case .reverseDNAT: m.action = .reverseDnat
    case .reverseSNAT: m.action = .reverseSnat
    }
    return try Wire.encode(m)
  }

  public init(wireBytes: [UInt8]) throws(WireError) {
    let m = try Wire.decode(Midge_Topology_V1_Rule.self, wireBytes)
    let action: RuleAction
    var targets: [NatTarget] = []
    for target in m.natTargets { targets.append(try Wire.natTarget(target)) }
    switch m.action {
    case .accept: action = .accept
    case .drop: action = .drop
    case .reject: action = .reject
    case .jump:
      action = .jump(
        chainId: try Wire.requiredID(m.hasJumpChainID, m.jumpChainID, "Rule jump chain"))
    case .return: action = .return
    case .continue: action = .continue
    case .dnat: action = .dnat(targets: targets)
    case .snat: action = .snat(targets: targets)
    case .reverseDnat: action = .reverseDNAT
    case .reverseSnat: action = .reverseSNAT
    case .UNRECOGNIZED(let raw):
      throw WireError(.invalidValue, "Rule.action \(raw) is unknown to this version")
    }
    self.init(
      id: try Wire.requiredID(m.hasID, m.id, "Rule.id"),
      chainId: try Wire.requiredID(m.hasChainID, m.chainID, "Rule.chainId"),
      condition: try Wire.condition(m.condition), action: action)
  }
}

extension PortGroup: WireCodable {
  public func wireBytes() throws(WireError) -> [UInt8] {
    var m = Midge_Topology_V1_PortGroup()
    m.id = Wire.uuid(id)
    m.name = name
    m.stateful = stateful
    m.portIds = portIds.map(Wire.uuid)
    return try Wire.encode(m)
  }

  public init(wireBytes: [UInt8]) throws(WireError) {
    let m = try Wire.decode(Midge_Topology_V1_PortGroup.self, wireBytes)
    self.init(
      id: try Wire.requiredID(m.hasID, m.id, "PortGroup.id"), name: m.name, stateful: m.stateful,
      portIds: Wire.ids(m.portIds))
  }
}

extension IPAddrGroup: WireCodable {
  public func wireBytes() throws(WireError) -> [UInt8] {
    var m = Midge_Topology_V1_IPAddrGroup()
    m.id = Wire.uuid(id)
    m.name = name
    m.addresses = addresses.map(\.rawValue)
    return try Wire.encode(m)
  }

  public init(wireBytes: [UInt8]) throws(WireError) {
    let m = try Wire.decode(Midge_Topology_V1_IPAddrGroup.self, wireBytes)
    self.init(
      id: try Wire.requiredID(m.hasID, m.id, "IPAddrGroup.id"), name: m.name,
      addresses: m.addresses.map(IPv4Address.init))
  }
}

extension Dhcp: WireCodable {
  public func wireBytes() throws(WireError) -> [UInt8] {
    var m = Midge_Topology_V1_Dhcp()
    m.id = Wire.uuid(id)
    m.bridgeID = Wire.uuid(bridgeId)
    m.subnet = Wire.prefix(subnet)
    if let gateway { m.gateway = gateway.rawValue }
    m.dnsServers = dnsServers.map(\.rawValue)
    m.hosts = hosts.map { host in
      var entry = Midge_Topology_V1_Dhcp.HostEntry()
      entry.mac = host.mac.rawValue
      entry.ip = host.ip.rawValue
      entry.name = host.name
      return entry
    }
    return try Wire.encode(m)
  }

  public init(wireBytes: [UInt8]) throws(WireError) {
    let m = try Wire.decode(Midge_Topology_V1_Dhcp.self, wireBytes)
    self.init(
      id: try Wire.requiredID(m.hasID, m.id, "Dhcp.id"),
      bridgeId: try Wire.requiredID(m.hasBridgeID, m.bridgeID, "Dhcp.bridgeId"),
      subnet: try Wire.prefix(m.subnet, "Dhcp.subnet"),
      gateway: m.hasGateway ? IPv4Address(rawValue: m.gateway) : nil,
      dnsServers: m.dnsServers.map(IPv4Address.init),
      hosts: m.hosts.map {
        DhcpHost(mac: MACAddress(rawValue: $0.mac), ip: IPv4Address(rawValue: $0.ip), name: $0.name)
      })
  }
}
