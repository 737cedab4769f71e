import Packets
import Topology

/// Why a simulation dropped its packet. Carried by `Verdict.drop` so that
/// traces, metrics and `midgectl trace` say *why*, not just that.
public enum DropReason: Hashable, Sendable, CustomStringConvertible {
  /// The port is administratively down.
  case portDown(ID)
  /// The bridge or router is administratively down.
  case deviceDown(ID)
  /// An exterior port with no active binding (no host serves it right now).
  case portInactive(ID)
  /// A port that is neither exterior nor interior.
  case portUnbound(ID)
  /// A DROP rule matched.
  case ruleDrop(chain: ID, rule: ID)
  /// A REJECT rule matched (an error may have been sent back).
  case ruleReject(chain: ID, rule: ID)
  /// JUMPs nested deeper than the configured limit (a jump loop, usually).
  case jumpDepthExceeded(chain: ID)
  /// The packet crossed more devices than the configured limit (a topology loop).
  case tooManyDevices(limit: Int)
  /// A bridge's known destination is the port the packet came from.
  case hairpin(bridge: ID, port: ID)
  /// A bridge had no other port to send to.
  case noEgressPort(bridge: ID)
  /// The frame is not addressed to the router port's MAC.
  case notForRouter(router: ID)
  /// A router received something that is neither ARP nor IPv4.
  case notIPv4(router: ID)
  /// Addressed to a router's own address and not something the router answers.
  case routerLocal(router: ID)
  /// No route to the destination (ICMP net unreachable may have been sent).
  case noRoute(router: ID)
  /// A blackhole route matched.
  case blackhole(route: ID)
  /// A reject route matched (ICMP administratively prohibited may have been sent).
  case rejectRoute(route: ID)
  /// The TTL would reach zero (ICMP time exceeded may have been sent).
  case ttlExpired(router: ID)
  /// A NAT rule found no free address/port in its targets.
  case natExhausted(chain: ID, rule: ID)
  /// A generated frame that does not parse (never expected).
  case malformed

  /// The reason without its objects, as a metric label: `rule_drop`, `no_route`, ...
  public var kind: String {
    switch self {
    case .portDown: return "port_down"
    case .deviceDown: return "device_down"
    case .portInactive: return "port_inactive"
    case .portUnbound: return "port_unbound"
    case .ruleDrop: return "rule_drop"
    case .ruleReject: return "rule_reject"
    case .jumpDepthExceeded: return "jump_depth_exceeded"
    case .tooManyDevices: return "too_many_devices"
    case .hairpin: return "hairpin"
    case .noEgressPort: return "no_egress_port"
    case .notForRouter: return "not_for_router"
    case .notIPv4: return "not_ipv4"
    case .routerLocal: return "router_local"
    case .noRoute: return "no_route"
    case .blackhole: return "blackhole"
    case .rejectRoute: return "reject_route"
    case .ttlExpired: return "ttl_expired"
    case .natExhausted: return "nat_exhausted"
    case .malformed: return "malformed"
    }
  }

  public var description: String {
    switch self {
    case .portDown(let id): return "port \(id) is down"
    case .deviceDown(let id): return "device \(id) is down"
    case .portInactive(let id): return "port \(id) is not active on any host"
    case .portUnbound(let id): return "port \(id) is not bound"
    case .ruleDrop(let chain, let rule): return "dropped by rule \(rule) of chain \(chain)"
    case .ruleReject(let chain, let rule): return "rejected by rule \(rule) of chain \(chain)"
    case .jumpDepthExceeded(let chain): return "jump depth exceeded at chain \(chain)"
    case .tooManyDevices(let limit): return "more than \(limit) devices traversed (loop?)"
    case .hairpin(let bridge, let port): return "bridge \(bridge) would send back out port \(port)"
    case .noEgressPort(let bridge): return "bridge \(bridge) has no port to send to"
    case .notForRouter(let router): return "frame not addressed to router \(router)"
    case .notIPv4(let router): return "router \(router) routes IPv4 only"
    case .routerLocal(let router): return "addressed to router \(router) itself"
    case .noRoute(let router): return "router \(router) has no route"
    case .blackhole(let route): return "blackhole route \(route)"
    case .rejectRoute(let route): return "reject route \(route)"
    case .ttlExpired(let router): return "TTL expired at router \(router)"
    case .malformed: return "malformed frame"
    case .natExhausted(let chain, let rule):
      return "no free NAT binding for rule \(rule) of \(chain)"
    }
  }
}
