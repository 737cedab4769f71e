import Packets
import Topology

/// Turning packet modifications into flow actions.
///
/// Devices modify `context.match` as they go (NAT, a router's MAC rewrite and
/// TTL decrement, a bridge's VLAN framing). Just before each output the
/// difference between the packet as modified and the packet as the actions
/// so far leave it is emitted as set-field actions. One diff per output keeps
/// the action list minimal for the usual single output, and keeps a flood
/// right when its branches differ (another branch's rewrite is undone before
/// the next output).
extension Simulator {
  func emitPendingSets(_ context: inout SimulationContext) {
    let now = context.match
    let was = context.emitted
    if now.ethernetSource != was.ethernetSource {
      context.actions.append(.setEthernetSource(now.ethernetSource))
    }
    if now.ethernetDestination != was.ethernetDestination {
      context.actions.append(.setEthernetDestination(now.ethernetDestination))
    }
    if let ip = now.networkSource, ip != was.networkSource {
      context.actions.append(.setNetworkSource(ip))
    }
    if let ip = now.networkDestination, ip != was.networkDestination {
      context.actions.append(.setNetworkDestination(ip))
    }
    if now.networkProtocol == .icmp {
      if let id = now.icmpEchoID, id != was.icmpEchoID {
        context.actions.append(.setTransportSource(id))
      }
    } else {
      if let port = now.transportSource, port != was.transportSource {
        context.actions.append(.setTransportSource(port))
      }
      if let port = now.transportDestination, port != was.transportDestination {
        context.actions.append(.setTransportDestination(port))
      }
    }
    if let ttl = now.networkTTL, let oldTTL = was.networkTTL, ttl != oldTTL {
      if ttl < oldTTL && oldTTL - ttl <= 4 {
        for _ in ttl..<oldTTL { context.actions.append(.decrementTTL) }
      } else {
        context.actions.append(.setTTL(ttl))
      }
    }
    if now.vlanID != was.vlanID {
      if was.vlanID != nil { context.actions.append(.popVLAN) }
      if let vlan = now.vlanID { context.actions.append(.pushVLAN(vlan)) }
    }
    context.emitted = now
  }
}
