import Addresses
import Packets
import Topology

/// A reason a flow might have to be removed: something the simulation looked
/// at to reach its decision.
///
/// The datapath indexes every installed flow under each of its tags; when the
/// topology or a state table changes, the shell invalidates the matching tag
/// and exactly the flows that depended on it go away. Coarse tags (a whole
/// device) are always present, so any change to a device can be handled
/// conservatively; the finer ones let the common changes — a MAC learned, an
/// ARP entry refreshed, a route added — touch only what they must:
///
/// - a MAC learned or moved on a bridge invalidates `.bridgeMAC(bridge, vlan,
///   mac)`: the flows that flooded because the MAC was unknown, and the flows
///   that went to its old port;
/// - an ARP entry changing invalidates `.arpEntry(router, ip)`;
/// - a route added or removed invalidates `.routerDestination(router, ip)` for
///   the destinations its prefix covers, and `.route(id)` for the route itself;
/// - a port going active or inactive invalidates `.port(id)`: flows out of it
///   and flows whose route choice skipped it;
/// - a chain, rule, port group or address group edited invalidates its tag;
/// - a conntrack entry or NAT binding expiring invalidates `.conntrack(key)` or
///   `.nat(key)`: the flows that created or relied on it. The shell also reads
///   these tags off the installed flows to see which entries are still in use.
public enum FlowTag: Hashable, Sendable, CustomStringConvertible {
  /// A bridge or router the packet traversed.
  case device(ID)
  /// A port the packet entered or left through, or whose state (active,
  /// inactive) influenced a route choice.
  case port(ID)
  /// A chain that was evaluated (including chains reached by JUMP).
  case chain(ID)
  /// A bridge looked up (or flooded for) this destination MAC on this VLAN.
  case bridgeMAC(bridge: ID, vlan: UInt16, mac: MACAddress)
  /// A router looked up a route for this destination.
  case routerDestination(router: ID, ip: IPv4Address)
  /// The route a router chose.
  case route(ID)
  /// A router resolved (or failed to resolve) this next hop's MAC.
  case arpEntry(router: ID, ip: IPv4Address)
  /// A rule matched on membership of this port group.
  case portGroup(ID)
  /// A rule matched on membership of this address group.
  case ipAddrGroup(ID)
  /// The connection-tracking entry was created or found (a return flow).
  case conntrack(ConntrackKey)
  /// The NAT entry under this key (a binding's forward or reverse key) was created or
  /// applied.
  case nat(NATKey)

  public var description: String {
    switch self {
    case .device(let id): return "device \(id)"
    case .port(let id): return "port \(id)"
    case .chain(let id): return "chain \(id)"
    case .bridgeMAC(let bridge, let vlan, let mac):
      return "bridge \(bridge) vlan \(vlan) mac \(mac)"
    case .routerDestination(let router, let ip): return "router \(router) destination \(ip)"
    case .route(let id): return "route \(id)"
    case .arpEntry(let router, let ip): return "router \(router) arp \(ip)"
    case .portGroup(let id): return "port group \(id)"
    case .ipAddrGroup(let id): return "address group \(id)"
    case .conntrack(let key): return "conntrack \(key)"
    case .nat(let key): return "nat \(key)"
    }
  }
}
