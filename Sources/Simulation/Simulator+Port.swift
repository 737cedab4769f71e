import Packets
import Topology

/// Ports: where packets enter and leave devices.
///
/// Entering through a port applies its inbound filter and hands the packet to
/// the port's device; leaving applies the outbound filter and then either
/// crosses to the peer port (interior: the walk continues in the peer's
/// device) or leaves the topology (exterior: output locally, or to the
/// serving host's tunnel with the port's tunnel key).
extension Simulator {
  /// The packet enters the device of port `id` through that port.
  func enterPort(_ id: ID, _ view: SimulationView, _ context: inout SimulationContext) -> Outcome {
    guard let port = view.topology.ports[id] else {
      context.note(.port, id, "not loaded")
      return .notYet([ObjectRef(.port, id)])
    }
    context.tag(.port(id))
    if context.ingressDevice == nil { context.ingressDevice = port.device.id }
    context.inPort = id
    guard port.adminStateUp else {
      context.note(.port, id, "administratively down: drop")
      return .drop(.portDown(id))
    }
    context.note(.port, id, "in")
    if let chain = port.inboundFilterId {
      let point = ChainPoint(device: port.device.id, inPort: id, outPort: nil)
      if let stop = filter(chain, at: point, view, &context) { return stop }
    }
    switch port.device {
    case .bridge(let bridge): return self.bridge(bridge, from: port, view, &context)
    case .router(let router): return self.router(router, from: port, view, &context)
    }
  }

  /// The packet leaves its current device through `port`.
  func leavePort(_ port: Port, _ view: SimulationView, _ context: inout SimulationContext)
    -> Outcome
  {
    let id = port.id
    context.tag(.port(id))
    guard port.adminStateUp else {
      context.note(.port, id, "administratively down: drop")
      return .drop(.portDown(id))
    }
    context.note(.port, id, "out")
    if let chain = port.outboundFilterId {
      let point = ChainPoint(device: port.device.id, inPort: context.inPort, outPort: id)
      if let stop = filter(chain, at: point, view, &context) { return stop }
    }
    if let peer = port.peerId {
      return enterPort(peer, view, &context)
    }
    return deliver(port, view, &context)
  }

  /// The packet leaves the topology through exterior `port`.
  func deliver(_ port: Port, _ view: SimulationView, _ context: inout SimulationContext)
    -> Outcome
  {
    let id = port.id
    context.tag(.port(id))
    guard port.isExterior else {
      context.note(.port, id, "not bound: drop")
      return .drop(.portUnbound(id))
    }
    guard let activation = view.activePorts[id] else {
      context.note(.port, id, "not active on any host: drop")
      return .drop(.portInactive(id))
    }
    emitPendingSets(&context)
    if activation.host == configuration.localHost {
      context.actions.append(.output(port: id))
      context.note(.port, id, "output locally")
    } else {
      context.actions.append(
        .tunnel(port: id, host: activation.host, tunnelKey: activation.tunnelKey))
      context.note(.port, id, "tunnel to host \(activation.host) key \(activation.tunnelKey)")
    }
    if let tuple = FlowTuple(context.match) {
      context.recordEgress(ConntrackKey(tuple: tuple.reversed, device: port.device.id))
    }
    return .output
  }
}
