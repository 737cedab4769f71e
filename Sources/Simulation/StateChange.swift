import Addresses
import Packets
import Topology

/// Something the shell must record because of this simulation. The simulator
/// never mutates the view; it says what to change, and the shell writes it to
/// the NSDB state tables, the local conntrack/NAT tables and the flow-state
/// replication stream (`SimulationView.apply(_:)` does the local part).
public enum StateChange: Hashable, Sendable, CustomStringConvertible {
  /// A bridge learned (or saw move) a source MAC on a port.
  case macLearned(bridge: ID, vlan: UInt16, mac: MACAddress, port: ID)
  /// A router learned a neighbour's MAC from an ARP packet addressed to it.
  case arpLearned(router: ID, ip: IPv4Address, mac: MACAddress)
  /// A connection was seen in its forward direction; replies matching the key
  /// are return flow.
  case conntrack(ConntrackKey)
  /// A NAT rule allocated a translation.
  case natBinding(NATBinding)

  public var description: String {
    switch self {
    case .macLearned(let bridge, let vlan, let mac, let port):
      return "learn mac \(mac) vlan \(vlan) on bridge \(bridge) port \(port)"
    case .arpLearned(let router, let ip, let mac):
      return "learn arp \(ip) at \(mac) on router \(router)"
    case .conntrack(let key):
      return "conntrack \(key)"
    case .natBinding(let binding):
      return "nat \(binding)"
    }
  }
}
