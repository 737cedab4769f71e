import Addresses

extension Wire {
  static func condition(_ c: Condition) -> Midge_Topology_V1_Condition {
    var m = Midge_Topology_V1_Condition()
    m.inPortIds = c.inPortIds.map(uuid)
    m.invInPorts = c.invInPorts
    m.outPortIds = c.outPortIds.map(uuid)
    m.invOutPorts = c.invOutPorts
    if let group = c.portGroupId { m.portGroupID = uuid(group) }
    m.invPortGroup = c.invPortGroup
    if let mac = c.dlSrc { m.dlSrc = mac.rawValue }
    m.dlSrcMask = c.dlSrcMask.rawValue
    m.invDlSrc = c.invDlSrc
    if let mac = c.dlDst { m.dlDst = mac.rawValue }
    m.dlDstMask = c.dlDstMask.rawValue
    m.invDlDst = c.invDlDst
    if let type = c.dlType { m.dlType = UInt32(type) }
    m.invDlType = c.invDlType
    if let source = c.nwSrc { m.nwSrc = prefix(source) }
    m.invNwSrc = c.invNwSrc
    if let destination = c.nwDst { m.nwDst = prefix(destination) }
    m.invNwDst = c.invNwDst
    if let proto = c.nwProto { m.nwProto = UInt32(proto) }
    m.invNwProto = c.invNwProto
    if let tos = c.nwTos { m.nwTos = UInt32(tos) }
    m.invNwTos = c.invNwTos
    if let ports = c.tpSrc { m.tpSrc = range(ports) }
    m.invTpSrc = c.invTpSrc
    if let ports = c.tpDst { m.tpDst = range(ports) }
    m.invTpDst = c.invTpDst
    if let group = c.ipAddrGroupIdSrc { m.ipAddrGroupIDSrc = uuid(group) }
    m.invIpAddrGroupIDSrc = c.invIpAddrGroupIdSrc
    if let group = c.ipAddrGroupIdDst { m.ipAddrGroupIDDst = uuid(group) }
    m.invIpAddrGroupIDDst = c.invIpAddrGroupIdDst
    m.matchForwardFlow = c.matchForwardFlow
    m.matchReturnFlow = c.matchReturnFlow
    switch c.fragmentPolicy {
    case .any: m.fragmentPolicy = .any
    case .header: m.fragmentPolicy = .header
    case .nonHeader: m.fragmentPolicy = .nonheader
    case .unfragmented: m.fragmentPolicy = .unfragmented
    }
    return m
  }

  static func condition(_ m: Midge_Topology_V1_Condition) throws(WireError) -> Condition {
    var c = Condition()
    c.inPortIds = ids(m.inPortIds)
    c.invInPorts = m.invInPorts
    c.outPortIds = ids(m.outPortIds)
    c.invOutPorts = m.invOutPorts
    c.portGroupId = m.hasPortGroupID ? id(m.portGroupID) : nil
    c.invPortGroup = m.invPortGroup
    c.dlSrc = m.hasDlSrc ? MACAddress(rawValue: m.dlSrc) : nil
    c.dlSrcMask = m.hasDlSrcMask ? MACAddress(rawValue: m.dlSrcMask) : .broadcast
    c.invDlSrc = m.invDlSrc
    c.dlDst = m.hasDlDst ? MACAddress(rawValue: m.dlDst) : nil
    c.dlDstMask = m.hasDlDstMask ? MACAddress(rawValue: m.dlDstMask) : .broadcast
    c.invDlDst = m.invDlDst
    if m.hasDlType {
      guard let type = UInt16(exactly: m.dlType) else {
        throw WireError(.invalidValue, "Condition.dlType \(m.dlType) (over 65535)")
      }
      c.dlType = type
    }
    c.invDlType = m.invDlType
    c.nwSrc = m.hasNwSrc ? try prefix(m.nwSrc, "Condition.nwSrc") : nil
    c.invNwSrc = m.invNwSrc
    c.nwDst = m.hasNwDst ? try prefix(m.nwDst, "Condition.nwDst") : nil
    c.invNwDst = m.invNwDst
    c.nwProto = m.hasNwProto ? try byte(m.nwProto, "Condition.nwProto") : nil
    c.invNwProto = m.invNwProto
    c.nwTos = m.hasNwTos ? try byte(m.nwTos, "Condition.nwTos") : nil
    c.invNwTos = m.invNwTos
    c.tpSrc = m.hasTpSrc ? try range(m.tpSrc, "Condition.tpSrc") : nil
    c.invTpSrc = m.invTpSrc
    c.tpDst = m.hasTpDst ? try range(m.tpDst, "Condition.tpDst") : nil
    c.invTpDst = m.invTpDst
    c.ipAddrGroupIdSrc = m.hasIpAddrGroupIDSrc ? id(m.ipAddrGroupIDSrc) : nil
    c.invIpAddrGroupIdSrc = m.invIpAddrGroupIDSrc
    c.ipAddrGroupIdDst = m.hasIpAddrGroupIDDst ? id(m.ipAddrGroupIDDst) : nil
    c.invIpAddrGroupIdDst = m.invIpAddrGroupIDDst
    c.matchForwardFlow = m.matchForwardFlow
    c.matchReturnFlow = m.matchReturnFlow
    switch m.fragmentPolicy {
    case .any: c.fragmentPolicy = .any
    case .header: c.fragmentPolicy = .header
    case .nonheader: c.fragmentPolicy = .nonHeader
    case .unfragmented: c.fragmentPolicy = .unfragmented
    case .UNRECOGNIZED(let raw):
      throw WireError(.invalidValue, "Condition.fragmentPolicy \(raw) is unknown to this version")
    }
    return c
  }
}
