import Addresses
import Packets
import Topology

/// Routers: ARP, pre-routing, local delivery, longest-prefix match with ECMP,
/// TTL, forward and post-routing chains, next-hop resolution.
///
/// Order of work for an IPv4 packet entering router port P:
/// 1. the frame must be addressed to P's MAC;
/// 2. pre-routing chain (the router's inbound filter: DNAT, reverse SNAT);
/// 3. addressed to one of the router's own addresses: echo requests are
///    answered, anything else is dropped;
/// 4. route lookup: the longest destination prefix whose source prefix also
///    matches, skipping routes via ports that are down or exterior and not
///    active; among equally long prefixes the lowest weight; among equal
///    weights one chosen by flow hash (ECMP). No route: ICMP net unreachable;
/// 5. TTL: a packet that would leave with TTL 0 is answered with ICMP time
///    exceeded; otherwise the TTL is decremented;
/// 6. forward chain, then post-routing chain (the router's outbound filter:
///    SNAT, reverse DNAT), both knowing the egress port;
/// 7. the next hop's MAC: the peer's port MAC for a router-to-router link,
///    else the ARP table; if unknown, an ARP request is emitted and the
///    result says the packet waits for it;
/// 8. Ethernet source and destination rewritten, out through the egress port.
///
/// ICMP errors are never sent about ICMP errors, broadcasts, multicasts or
/// non-first fragments (`FlowMatch.mayElicitICMPError`).
extension Simulator {
  func router(
    _ id: ID, from port: Port, _ view: SimulationView, _ context: inout SimulationContext
  ) -> Outcome {
    if let stop = countDevice(&context) { return stop }
    guard let router = view.topology.routers[id] else {
      context.note(.router, id, "not loaded")
      return .notYet([ObjectRef(.router, id)])
    }
    context.tag(.device(id))
    guard router.adminStateUp else {
      context.note(.router, id, "administratively down: drop")
      return .drop(.deviceDown(id))
    }
    context.match.vlanID = nil
    guard let l3 = view.compiled.portL3[port.id] else {
      context.note(.router, id, "port \(port.id) has no address: drop")
      return .drop(.notForRouter(router: id))
    }
    if context.match.etherType == .arp {
      return arp(router: id, port: port.id, l3, view, &context)
    }
    guard context.match.etherType == .ipv4, context.match.networkDestination != nil else {
      context.note(.router, id, "not IPv4: drop")
      return .drop(.notIPv4(router: id))
    }
    guard context.match.ethernetDestination == l3.mac else {
      let destination = context.match.ethernetDestination
      context.note(.router, id, "frame for \(destination), not us: drop")
      return .drop(.notForRouter(router: id))
    }
    context.note(.router, id, "in from port \(port.id)")

    if let chain = router.inboundFilterId {
      let point = ChainPoint(device: id, inPort: port.id, outPort: nil)
      if let stop = filter(chain, at: point, view, &context) { return stop }
    }

    let destination = context.match.networkDestination ?? .any
    let source = context.match.networkSource ?? .any
    if view.compiled.routerAddresses[DeviceIPKey(device: id, ip: destination)] != nil {
      return local(router: id, port: port.id, view, &context)
    }

    context.tag(.routerDestination(router: id, ip: destination))
    let route: CompiledRoute
    switch lookup(router: id, source: source, destination: destination, view, &context) {
    case .notYet(let ids):
      return .notYet(ids)
    case .none:
      context.note(.route, id, "no route to \(destination)")
      icmpError(
        .destinationUnreachable, code: ICMPCode.Unreachable.network, from: port.id, l3, &context)
      return .drop(.noRoute(router: id))
    case .some(let chosen):
      route = chosen
    }
    context.tag(.route(route.id))
    context.note(.route, route.id, "chosen for \(destination): \(route.nextHop)")

    let outId: ID
    switch route.nextHop {
    case .blackhole:
      return .drop(.blackhole(route: route.id))
    case .reject:
      icmpError(
        .destinationUnreachable, code: ICMPCode.Unreachable.administrativelyProhibited,
        from: port.id, l3, &context)
      return .drop(.rejectRoute(route: route.id))
    case .local:
      return local(router: id, port: port.id, view, &context)
    case .port:
      guard let id = route.port else { return .drop(.blackhole(route: route.id)) }
      outId = id
    }

    guard let ttl = context.match.networkTTL, ttl > 1 else {
      context.note(.router, id, "TTL expires")
      icmpError(.timeExceeded, code: ICMPCode.TimeExceeded.ttl, from: port.id, l3, &context)
      return .drop(.ttlExpired(router: id))
    }
    context.match.networkTTL = ttl - 1

    guard let outPort = view.topology.ports[outId] else {
      return .notYet([ObjectRef(.port, outId)])
    }
    let point = ChainPoint(device: id, inPort: port.id, outPort: outId)
    if let chain = router.forwardFilterId {
      if let stop = filter(chain, at: point, view, &context) { return stop }
    }
    if let chain = router.outboundFilterId {
      if let stop = filter(chain, at: point, view, &context) { return stop }
    }

    guard let outL3 = view.compiled.portL3[outId] else {
      context.note(.router, id, "egress port \(outId) has no address: drop")
      return .drop(.noRoute(router: id))
    }
    let nextHop = route.gateway ?? context.match.networkDestination ?? destination
    var nextHopMAC: MACAddress?
    if let peer = outPort.peerId, let peerL3 = view.compiled.portL3[peer],
      peerL3.address == nextHop
    {
      nextHopMAC = peerL3.mac
    } else {
      context.tag(.arpEntry(router: id, ip: nextHop))
      nextHopMAC = view.arpTable[DeviceIPKey(device: id, ip: nextHop)]
    }
    guard let mac = nextHopMAC else {
      let request = PacketBuilder.arpRequest(
        senderMAC: outL3.mac, senderIP: outL3.address, targetIP: nextHop)
      context.send(.arpRequest, request, out: outId)
      context.note(.arp, id, "\(nextHop) unknown: ARP request sent out of \(outId)")
      return .awaitingARP(router: id, ip: nextHop)
    }
    context.match.ethernetSource = outL3.mac
    context.match.ethernetDestination = mac
    context.note(.router, id, "next hop \(nextHop) at \(mac), out of port \(outId)")
    return leavePort(outPort, view, &context)
  }

  /// What a route lookup found.
  enum RouteLookup {
    case none
    case some(CompiledRoute)
    case notYet([ObjectRef])
  }

  /// Longest-prefix match with source prefixes, weights and ECMP.
  func lookup(
    router: ID, source: IPv4Address, destination: IPv4Address,
    _ view: SimulationView, _ context: inout SimulationContext
  ) -> RouteLookup {
    guard let table = view.compiled.routes[router] else { return .none }
    guard table.missing.isEmpty else { return .notYet(table.missing) }
    let routes = table.routes
    var first = -1
    for index in routes.indices
    where routes[index].matches(source: source, destination: destination) {
      switch usable(routes[index], view, &context) {
      case .some(true):
        first = index
      case .some(false):
        continue
      case .none:
        return .notYet([
          routes[index].port.map { ObjectRef(.port, $0) } ?? ObjectRef(.route, routes[index].id)
        ])
      }
      break
    }
    guard first >= 0 else { return .none }
    let best = routes[first]
    // Equal-cost candidates sit right after the first in sort order.
    var count = 0
    var index = first
    while index < routes.count, routes[index].destinationLength == best.destinationLength,
      routes[index].weight == best.weight
    {
      if routes[index].matches(source: source, destination: destination),
        usable(routes[index], view, &context) == true
      {
        count += 1
      }
      index += 1
    }
    guard count > 1 else { return .some(best) }
    var pick = Int(context.flowHash % UInt64(count))
    index = first
    while true {
      if routes[index].matches(source: source, destination: destination),
        usable(routes[index], view, &context) == true
      {
        if pick == 0 { return .some(routes[index]) }
        pick -= 1
      }
      index += 1
    }
  }

  /// Whether a route may be used: routes via a port that is down, or via an
  /// exterior port no host serves, are withdrawn. nil when the port is not loaded.
  private func usable(
    _ route: CompiledRoute, _ view: SimulationView, _ context: inout SimulationContext
  ) -> Bool? {
    guard route.nextHop == .port, let portId = route.port else { return true }
    guard let port = view.topology.ports[portId] else { return nil }
    guard port.adminStateUp else { return false }
    if port.isExterior && view.activePorts[portId] == nil {
      context.tag(.port(portId))
      context.note(.route, route.id, "skipped: port \(portId) is not active")
      return false
    }
    return true
  }

  /// A packet for the router itself: echo requests are answered.
  private func local(
    router id: ID, port: ID, _ view: SimulationView, _ context: inout SimulationContext
  ) -> Outcome {
    let match = context.match
    if match.networkProtocol == .icmp,
      match.transportSource == UInt16(ICMPType.echoRequest.rawValue),
      let reply = try? PacketBuilder.icmpEchoReply(to: context.currentFrame())
    {
      context.send(.icmpEchoReply, reply, out: port)
      context.note(.router, id, "echo request to \(match.networkDestination ?? .any): reply sent")
      return .consumed
    }
    context.note(.router, id, "addressed to the router: drop")
    return .drop(.routerLocal(router: id))
  }

  /// ARP at a router port: learn the sender if on-link, answer requests for
  /// the port's own address.
  private func arp(
    router id: ID, port: ID, _ l3: PortL3, _ view: SimulationView,
    _ context: inout SimulationContext
  ) -> Outcome {
    let match = context.match
    guard let operation = match.arpOperation, let senderIP = match.arpSenderProtocolAddress,
      let senderMAC = match.arpSenderHardwareAddress
    else { return .consumed }
    if l3.onLink(senderIP), senderIP != l3.address, !senderIP.isUnspecified,
      view.arpTable[DeviceIPKey(device: id, ip: senderIP)] != senderMAC
    {
      context.change(.arpLearned(router: id, ip: senderIP, mac: senderMAC))
      context.note(.arp, id, "learn \(senderIP) at \(senderMAC)")
    }
    if operation == .request, match.arpTargetProtocolAddress == l3.address {
      let reply = PacketBuilder.arpReply(
        senderMAC: l3.mac, senderIP: l3.address, targetMAC: senderMAC, targetIP: senderIP,
        vlan: context.packet.match.vlanID.map { VLANTag(id: $0) })
      context.send(.arpReply, reply, out: port)
      context.note(.arp, id, "\(l3.address) is at \(l3.mac): reply sent")
    }
    return .consumed
  }

  /// Sends an ICMP error about the current packet back out of `port`, if
  /// the packet may elicit one.
  private func icmpError(
    _ type: ICMPType, code: UInt8, from port: ID, _ l3: PortL3, _ context: inout SimulationContext
  ) {
    guard context.match.mayElicitICMPError else {
      context.note(.router, port, "no ICMP error about this packet")
      return
    }
    guard
      let error = try? PacketBuilder.icmpError(
        type: type, code: code, quoting: context.currentFrame(), ethernetSource: l3.mac,
        networkSource: l3.address)
    else { return }
    context.send(.icmpError, error, out: port)
    context.note(.router, port, "ICMP \(type) code \(code) sent")
  }
}
