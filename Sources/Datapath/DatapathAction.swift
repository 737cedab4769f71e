import Addresses
import Packets

/// One action of a flow, in datapath terms: ports are datapath port numbers and tunnels
/// are endpoints, both chosen by the agent from the simulator's result
/// (`ActionTranslator` maps each `Simulation.FlowAction` to one of these).
///
/// Actions run in order on each packet of the flow, as in OVS: a set-field action
/// changes what every later output sends, an output sends the frame as it is at that
/// point. Field rewrites fix the checksums that cover the field incrementally.
public enum DatapathAction: Hashable, Sendable, CustomStringConvertible {
  /// Send out of a local interface.
  case output(port: UInt32)
  /// Wrap in a VXLAN-format header carrying `tunnelKey` (the egress port's key) and send
  /// over UDP to `remote`, whose datapath delivers it to the port with that key.
  case encapsulate(tunnelKey: UInt32, remote: TunnelEndpoint)
  /// Rewrite the Ethernet source.
  case setEthernetSource(MACAddress)
  /// Rewrite the Ethernet destination.
  case setEthernetDestination(MACAddress)
  /// Rewrite the IPv4 source (IPv4 and TCP/UDP checksums follow).
  case setIPv4Source(IPv4Address)
  /// Rewrite the IPv4 destination (IPv4 and TCP/UDP checksums follow).
  case setIPv4Destination(IPv4Address)
  /// Rewrite the TCP/UDP source port or the ICMP echo identifier.
  case setTransportSource(UInt16)
  /// Rewrite the TCP/UDP destination port.
  case setTransportDestination(UInt16)
  /// A router hop: TTL minus one. A packet whose TTL would reach 0 is dropped.
  case decrementTTL
  /// Set the IPv4 TTL (the IPv4 checksum follows); the simulator restores a TTL this way
  /// when a flood's branches routed differently.
  case setTTL(UInt8)
  /// Insert an 802.1Q header (TPID 0x8100) carrying `tag` in front of any tags the frame
  /// has, as an access port's frame leaves by a trunk.
  case pushVLAN(VLANTag)
  /// Remove the outermost VLAN header, as a trunk's frame leaves by an access port. A
  /// frame with no tag ends there (like a rewrite of a missing layer).
  case popVLAN
  /// Stop processing the packet; `reason` is counted and shown in dumps.
  case drop(reason: String)

  public var description: String {
    switch self {
    case .output(let port): return "output(\(port))"
    case .encapsulate(let key, let remote): return "encap(key=\(key), to=\(remote))"
    case .setEthernetSource(let mac): return "set(eth_src=\(mac))"
    case .setEthernetDestination(let mac): return "set(eth_dst=\(mac))"
    case .setIPv4Source(let ip): return "set(nw_src=\(ip))"
    case .setIPv4Destination(let ip): return "set(nw_dst=\(ip))"
    case .setTransportSource(let port): return "set(tp_src=\(port))"
    case .setTransportDestination(let port): return "set(tp_dst=\(port))"
    case .decrementTTL: return "dec_ttl"
    case .setTTL(let ttl): return "set(ttl=\(ttl))"
    case .pushVLAN(let tag): return "push_vlan(vid=\(tag.id),pcp=\(tag.priority))"
    case .popVLAN: return "pop_vlan"
    case .drop(let reason): return "drop(\(reason))"
    }
  }
}
