import Addresses

extension Host: WireCodable {
  public func wireBytes() throws(WireError) -> [UInt8] {
    var m = Midge_Topology_V1_Host()
    m.id = Wire.uuid(id)
    m.name = name
    m.portIds = portIds.map(Wire.uuid)
    m.tunnelZoneIds = tunnelZoneIds.map(Wire.uuid)
    m.candidatePortIds = candidatePortIds.map(Wire.uuid)
    return try Wire.encode(m)
  }

  public init(wireBytes: [UInt8]) throws(WireError) {
    let m = try Wire.decode(Midge_Topology_V1_Host.self, wireBytes)
    self.init(
      id: try Wire.requiredID(m.hasID, m.id, "Host.id"), name: m.name,
      portIds: Wire.ids(m.portIds), tunnelZoneIds: Wire.ids(m.tunnelZoneIds),
      candidatePortIds: Wire.ids(m.candidatePortIds))
  }
}

extension TunnelZone: WireCodable {
  public func wireBytes() throws(WireError) -> [UInt8] {
    var m = Midge_Topology_V1_TunnelZone()
    m.id = Wire.uuid(id)
    m.name = name
    m.members = members.sorted { $0.key < $1.key }.map { hostID, endpoint in
      var member = Midge_Topology_V1_TunnelZone.Member()
      member.hostID = Wire.uuid(hostID)
      member.address = endpoint.address.rawValue
      member.port = UInt32(endpoint.port)
      return member
    }
    m.hostIds = hostIds.map(Wire.uuid)
    return try Wire.encode(m)
  }

  public init(wireBytes: [UInt8]) throws(WireError) {
    let m = try Wire.decode(Midge_Topology_V1_TunnelZone.self, wireBytes)
    var members: [ID: Endpoint] = [:]
    for member in m.members {
      let host = try Wire.requiredID(member.hasHostID, member.hostID, "TunnelZone member host")
      members[host] = Endpoint(
        address: IPv4Address(rawValue: member.address),
        port: try Wire.port(member.port, "tunnel port"))
    }
    self.init(
      id: try Wire.requiredID(m.hasID, m.id, "TunnelZone.id"), name: m.name, members: members,
      hostIds: Wire.ids(m.hostIds))
  }
}

extension Bridge: WireCodable {
  public func wireBytes() throws(WireError) -> [UInt8] {
    var m = Midge_Topology_V1_Bridge()
    m.id = Wire.uuid(id)
    m.name = name
    m.adminStateUp = adminStateUp
    if let inboundFilterId { m.inboundFilterID = Wire.uuid(inboundFilterId) }
    if let outboundFilterId { m.outboundFilterID = Wire.uuid(outboundFilterId) }
    m.portIds = portIds.map(Wire.uuid)
    m.dhcpIds = dhcpIds.map(Wire.uuid)
    if let vni { m.vni = vni }
    return try Wire.encode(m)
  }

  public init(wireBytes: [UInt8]) throws(WireError) {
    let m = try Wire.decode(Midge_Topology_V1_Bridge.self, wireBytes)
    self.init(
      id: try Wire.requiredID(m.hasID, m.id, "Bridge.id"), name: m.name)
    adminStateUp = m.adminStateUp
    inboundFilterId = m.hasInboundFilterID ? Wire.id(m.inboundFilterID) : nil
    outboundFilterId = m.hasOutboundFilterID ? Wire.id(m.outboundFilterID) : nil
    portIds = Wire.ids(m.portIds)
    dhcpIds = Wire.ids(m.dhcpIds)
    vni = m.hasVni ? m.vni : nil
  }
}

extension Router: WireCodable {
  public func wireBytes() throws(WireError) -> [UInt8] {
    var m = Midge_Topology_V1_Router()
    m.id = Wire.uuid(id)
    m.name = name
    m.adminStateUp = adminStateUp
    if let inboundFilterId { m.inboundFilterID = Wire.uuid(inboundFilterId) }
    if let outboundFilterId { m.outboundFilterID = Wire.uuid(outboundFilterId) }
    if let forwardFilterId { m.forwardFilterID = Wire.uuid(forwardFilterId) }
    m.portIds = portIds.map(Wire.uuid)
    m.routeIds = routeIds.map(Wire.uuid)
    return try Wire.encode(m)
  }

  public init(wireBytes: [UInt8]) throws(WireError) {
    let m = try Wire.decode(Midge_Topology_V1_Router.self, wireBytes)
    self.init(id: try Wire.requiredID(m.hasID, m.id, "Router.id"), name: m.name)
    adminStateUp = m.adminStateUp
    inboundFilterId = m.hasInboundFilterID ? Wire.id(m.inboundFilterID) : nil
    outboundFilterId = m.hasOutboundFilterID ? Wire.id(m.outboundFilterID) : nil
    forwardFilterId = m.hasForwardFilterID ? Wire.id(m.forwardFilterID) : nil
    portIds = Wire.ids(m.portIds)
    routeIds = Wire.ids(m.routeIds)
  }
}

extension Port: WireCodable {
  public func wireBytes() throws(WireError) -> [UInt8] {
    var m = Midge_Topology_V1_Port()
    m.id = Wire.uuid(id)
    switch device {
    case .bridge(let bridge): m.bridgeID = Wire.uuid(bridge)
    case .router(let router): m.routerID = Wire.uuid(router)
    }
    m.adminStateUp = adminStateUp
    m.tunnelKey = tunnelKey
    if let inboundFilterId { m.inboundFilterID = Wire.uuid(inboundFilterId) }
    if let outboundFilterId { m.outboundFilterID = Wire.uuid(outboundFilterId) }
    m.portGroupIds = portGroupIds.map(Wire.uuid)
    m.routeIds = routeIds.map(Wire.uuid)
    if let vlanId { m.vlanID = UInt32(vlanId) }
    if let hostId { m.hostID = Wire.uuid(hostId) }
    if let interfaceName { m.interfaceName = interfaceName }
    if let peerId { m.peerID = Wire.uuid(peerId) }
    if let portAddress { m.portAddress = portAddress.rawValue }
    if let portSubnet { m.portSubnet = Wire.prefix(portSubnet) }
    if let portMAC { m.portMac = portMAC.rawValue }
    m.name = name
    m.candidates = candidates.map { candidate in
      var c = Midge_Topology_V1_PortCandidate()
      c.hostID = Wire.uuid(candidate.hostId)
      c.interfaceName = candidate.interfaceName
      c.priority = candidate.priority
      return c
    }
    return try Wire.encode(m)
  }

  public init(wireBytes: [UInt8]) throws(WireError) {
    let m = try Wire.decode(Midge_Topology_V1_Port.self, wireBytes)
    let device: DeviceRef
    switch m.device {
    case .bridgeID(let bridge)?: device = .bridge(Wire.id(bridge))
    case .routerID(let router)?: device = .router(Wire.id(router))
    case nil: throw WireError(.missingField, "Port.device (bridge or router) is missing")
    }
    self.init(id: try Wire.requiredID(m.hasID, m.id, "Port.id"), device: device)
    adminStateUp = m.adminStateUp
    tunnelKey = m.tunnelKey
    inboundFilterId = m.hasInboundFilterID ? Wire.id(m.inboundFilterID) : nil
    outboundFilterId = m.hasOutboundFilterID ? Wire.id(m.outboundFilterID) : nil
    portGroupIds = Wire.ids(m.portGroupIds)
    routeIds = Wire.ids(m.routeIds)
    if m.hasVlanID {
      guard m.vlanID < 4096 else { throw WireError(.invalidValue, "Port.vlanId \(m.vlanID)") }
      vlanId = UInt16(m.vlanID)
    }
    hostId = m.hasHostID ? Wire.id(m.hostID) : nil
    interfaceName = m.hasInterfaceName ? m.interfaceName : nil
    peerId = m.hasPeerID ? Wire.id(m.peerID) : nil
    portAddress = m.hasPortAddress ? IPv4Address(rawValue: m.portAddress) : nil
    portSubnet = m.hasPortSubnet ? try Wire.prefix(m.portSubnet, "Port.portSubnet") : nil
    portMAC = m.hasPortMac ? MACAddress(rawValue: m.portMac) : nil
    name = m.name
    candidates = try m.candidates.map { (c) throws(WireError) in
      PortCandidate(
        hostId: try Wire.requiredID(c.hasHostID, c.hostID, "PortCandidate.hostId"),
        interfaceName: c.interfaceName, priority: c.priority)
    }
  }
}
