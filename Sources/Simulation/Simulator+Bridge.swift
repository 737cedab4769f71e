import Packets
import Topology

/// Bridges: MAC learning, forwarding, flooding, ARP suppression, VLANs.
///
/// The VLAN a frame belongs to on the bridge is its ingress port's access
/// VLAN, else the frame's own tag, else 0 (untagged). MAC tables are per
/// VLAN. A port with a `vlanId` is an access port of that VLAN (frames leave
/// it untagged); a port without one is a trunk (frames leave it tagged with
/// their VLAN, untagged for VLAN 0). A flood goes to every other port of the
/// frame's VLAN, one flow with several outputs; a flood that reaches an
/// interior port continues through the peer's device as a branch of the same
/// simulation.
///
/// Learning is a state change (the shell writes the MAC table); the flow is
/// tagged with (bridge, VLAN, destination MAC), which is exactly what a later
/// learning of that MAC invalidates — so flooded flows are replaced by
/// unicast ones as soon as the destination is known.
///
/// Bridges know the MACs of the router ports patched to them without
/// learning, and answer ARP for router port addresses, for DHCP static hosts
/// and for the entries of the view's IP→MAC table (ARP suppression): the
/// request never floods.
extension Simulator {
  func bridge(
    _ id: ID, from port: Port, _ view: SimulationView, _ context: inout SimulationContext
  ) -> Outcome {
    if let stop = countDevice(&context) { return stop }
    guard let bridge = view.topology.bridges[id] else {
      context.note(.bridge, id, "not loaded")
      return .notYet([ObjectRef(.bridge, id)])
    }
    context.tag(.device(id))
    guard bridge.adminStateUp else {
      context.note(.bridge, id, "administratively down: drop")
      return .drop(.deviceDown(id))
    }
    let vlan = port.vlanId ?? context.match.vlanID ?? 0
    context.match.vlanID = vlan == 0 ? nil : vlan
    context.note(.bridge, id, "in from port \(port.id) on vlan \(vlan)")

    if let chain = bridge.inboundFilterId {
      let point = ChainPoint(device: id, inPort: port.id, outPort: nil)
      if let stop = filter(chain, at: point, view, &context) { return stop }
    }

    let source = context.match.ethernetSource
    // Router ports' MACs are known without learning (see `bridgeRouterMACs`).
    if source.isUnicast && !source.isZero
      && view.compiled.bridgeRouterMACs[DeviceIPKey.MACKey(device: id, mac: source)] != port.id
    {
      let key = MACTableKey(bridge: id, vlan: vlan, mac: source)
      if view.macTable[key] != port.id {
        context.change(.macLearned(bridge: id, vlan: vlan, mac: source, port: port.id))
        context.note(.bridge, id, "learn \(source) on port \(port.id)")
      }
    }

    if context.match.etherType == .arp, context.match.arpOperation == .request,
      let target = context.match.arpTargetProtocolAddress,
      let sender = context.match.arpSenderProtocolAddress, target != sender,
      let answer = view.bridgeMAC(for: target, on: id)
    {
      let reply = PacketBuilder.arpReply(
        senderMAC: answer, senderIP: target,
        targetMAC: context.match.arpSenderHardwareAddress ?? source, targetIP: sender,
        vlan: context.packet.match.vlanID.map { VLANTag(id: $0) })
      context.send(.arpReply, reply, out: port.id)
      context.note(.arp, id, "suppressed: \(target) is at \(answer), reply sent")
      return .consumed
    }

    let destination = context.match.ethernetDestination
    if destination.isUnicast {
      context.tag(.bridgeMAC(bridge: id, vlan: vlan, mac: destination))
      let known =
        view.macTable[MACTableKey(bridge: id, vlan: vlan, mac: destination)]
        ?? view.compiled.bridgeRouterMACs[DeviceIPKey.MACKey(device: id, mac: destination)]
      if let out = known {
        guard out != port.id else {
          context.note(.bridge, id, "\(destination) is behind the ingress port: drop")
          return .drop(.hairpin(bridge: id, port: out))
        }
        guard let outPort = view.topology.ports[out] else {
          return .notYet([ObjectRef(.port, out)])
        }
        context.note(.bridge, id, "\(destination) is on port \(out)")
        return bridgeEgress(bridge, outPort, vlan: vlan, view, &context)
      }
    }
    return flood(bridge, from: port.id, vlan: vlan, view, &context)
  }

  /// Sends to every other port of the VLAN, each as a branch.
  private func flood(
    _ bridge: Bridge, from ingress: ID, vlan: UInt16, _ view: SimulationView,
    _ context: inout SimulationContext
  ) -> Outcome {
    let id = bridge.id
    guard let ports = view.compiled.devicePorts[id] else {
      return .drop(.noEgressPort(bridge: id))
    }
    guard ports.missing.isEmpty else { return .notYet(ports.missing) }
    let destination = context.match.ethernetDestination
    context.note(.bridge, id, "flood \(destination) on vlan \(vlan)")
    let start = context.branch
    var combined: Outcome?
    for out in ports.ports where out != ingress {
      guard let outPort = view.topology.ports[out] else { continue }
      if let access = outPort.vlanId, access != vlan { continue }
      context.branch = start
      let outcome = bridgeEgress(bridge, outPort, vlan: vlan, view, &context)
      combined = Outcome.combine(combined, outcome)
      // A loop or a missing object decides the whole packet: stop here.
      switch combined {
      case .drop(.tooManyDevices), .notYet: return combined ?? outcome
      default: continue
      }
    }
    return combined ?? .drop(.noEgressPort(bridge: id))
  }

  /// Leaves the bridge through `port`: VLAN framing, outbound bridge filter,
  /// then the port.
  private func bridgeEgress(
    _ bridge: Bridge, _ port: Port, vlan: UInt16, _ view: SimulationView,
    _ context: inout SimulationContext
  ) -> Outcome {
    context.match.vlanID = port.vlanId == nil && vlan != 0 ? vlan : nil
    if let chain = bridge.outboundFilterId {
      let point = ChainPoint(device: bridge.id, inPort: context.inPort, outPort: port.id)
      if let stop = filter(chain, at: point, view, &context) { return stop }
    }
    return leavePort(port, view, &context)
  }

  /// Counts a device entry; a drop once over the limit.
  func countDevice(_ context: inout SimulationContext) -> Outcome? {
    guard context.devices < configuration.maxDevices else {
      context.devices = configuration.maxDevices + 1
      context.note(.decision, nil, "more than \(configuration.maxDevices) devices: drop")
      return .drop(.tooManyDevices(limit: configuration.maxDevices))
    }
    context.devices += 1
    return nil
  }
}
