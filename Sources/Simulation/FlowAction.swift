import Addresses
import Packets
import Topology

/// One action of a flow, in topology terms; the agent maps port ids to
/// datapath ports and hosts to tunnel endpoints.
///
/// Actions are a sequence, applied in order to each packet of the flow, as in
/// OVS: set-field actions before an output change what that output (and
/// every later one) sends. A flood to ports that need different VLAN framing
/// therefore interleaves `pushVLAN`/`popVLAN` with the outputs.
public enum FlowAction: Hashable, Sendable, CustomStringConvertible {
  /// Send out of an exterior port served by this host.
  case output(port: ID)
  /// Encapsulate with `tunnelKey` (the egress port's key) and send to the
  /// host serving `port`, which delivers it without simulating again.
  case tunnel(port: ID, host: ID, tunnelKey: UInt32)
  case setEthernetSource(MACAddress)
  case setEthernetDestination(MACAddress)
  case setNetworkSource(IPv4Address)
  case setNetworkDestination(IPv4Address)
  /// The TCP/UDP source port, or the ICMP echo identifier.
  case setTransportSource(UInt16)
  /// The TCP/UDP destination port.
  case setTransportDestination(UInt16)
  /// A router hop: TTL minus one (the simulation already checked it stays above 0).
  case decrementTTL
  /// Restores a TTL, needed only when a flood forks into branches that routed
  /// differently.
  case setTTL(UInt8)
  /// Tags the frame with an 802.1Q header (access port → trunk port).
  case pushVLAN(UInt16)
  /// Removes the outer 802.1Q header (trunk → access port).
  case popVLAN

  public var description: String {
    switch self {
    case .output(let port): return "output(\(port))"
    case .tunnel(let port, let host, let key): return "tunnel(\(port) on \(host) key \(key))"
    case .setEthernetSource(let mac): return "set(eth_src=\(mac))"
    case .setEthernetDestination(let mac): return "set(eth_dst=\(mac))"
    case .setNetworkSource(let ip): return "set(nw_src=\(ip))"
    case .setNetworkDestination(let ip): return "set(nw_dst=\(ip))"
    case .setTransportSource(let port): return "set(tp_src=\(port))"
    case .setTransportDestination(let port): return "set(tp_dst=\(port))"
    case .decrementTTL: return "dec_ttl"
    case .setTTL(let ttl): return "set(ttl=\(ttl))"
    case .pushVLAN(let vlan): return "push_vlan(\(vlan))"
    case .popVLAN: return "pop_vlan"
    }
  }
}
