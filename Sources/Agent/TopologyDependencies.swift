import Topology

/// What a simulation through an object will need at once, asked for as soon as the
/// object arrives rather than one `.notYet` round trip later: loading a path then takes
/// fewer NSDB round trips than it has levels.
///
/// Deliberately not a device's whole port list (a flood asks for that; a unicast path
/// does not need it, and bridges can have thousands), nor hosts.
enum TopologyDependencies {
  static func needed(by object: any ModelObject) -> [ObjectRef] {
    var refs: [ObjectRef] = []
    func chain(_ id: ID?) { if let id { refs.append(ObjectRef(.chain, id)) } }
    switch object {
    case let port as Port:
      // Its peer (a bridge learns the MAC and address of the router port linked to it)
      // and its filters. Not its device: a router's ports would then bring in every
      // bridge linked to it, with their MAC tables; a packet that enters one asks.
      if let peer = port.peerId { refs.append(ObjectRef(.port, peer)) }
      chain(port.inboundFilterId)
      chain(port.outboundFilterId)
    case let bridge as Bridge:
      // DHCP subnets: their static hosts answer ARP.
      refs += bridge.dhcpIds.map { ObjectRef(.dhcp, $0) }
      chain(bridge.inboundFilterId)
      chain(bridge.outboundFilterId)
    case let router as Router:
      // Every route (a lookup needs them all) and every port: their addresses are the
      // router's own, which a packet for the router must find whichever port they are on.
      refs += router.routeIds.map { ObjectRef(.route, $0) }
      refs += router.portIds.map { ObjectRef(.port, $0) }
      chain(router.inboundFilterId)
      chain(router.outboundFilterId)
      chain(router.forwardFilterId)
    case let value as Chain:
      refs += value.ruleIds.map { ObjectRef(.rule, $0) }
    case let rule as Rule:
      if case .jump(let target) = rule.action { chain(target) }
      let condition = rule.condition
      for group in [condition.ipAddrGroupIdSrc, condition.ipAddrGroupIdDst] {
        if let group { refs.append(ObjectRef(.ipAddrGroup, group)) }
      }
      if let group = condition.portGroupId { refs.append(ObjectRef(.portGroup, group)) }
    default:
      break
    }
    return refs
  }
}
