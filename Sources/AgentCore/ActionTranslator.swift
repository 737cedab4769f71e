import Datapath
import Packets
import Simulation
import Topology

/// Turns a simulation's actions (ports and hosts by id) into datapath actions (local port
/// numbers and tunnel endpoints), from what the agent knows right now.
///
/// Pure: the maps come in as values, so the translation is tested without a datapath.
/// Every simulated action has a datapath action: the `switch` has no `default`, so a new
/// simulator action does not compile until it is mapped here. Only missing knowledge
/// fails a translation: a tunnel to a host with no known endpoint, or an output to a
/// port this host does not serve. The agent then installs a short drop flow tagged with
/// the port, which is re-simulated when the port or the host changes.
public struct ActionTranslator: Sendable {
  /// Local ports: port id → datapath port number.
  public var localPorts: [ID: UInt32]
  /// Tunnel endpoints of the other hosts.
  public var endpoints: [ID: TunnelEndpoint]

  public init(localPorts: [ID: UInt32], endpoints: [ID: TunnelEndpoint]) {
    self.localPorts = localPorts
    self.endpoints = endpoints
  }

  /// Why a translation failed.
  public struct Failure: Error, Hashable, Sendable, CustomStringConvertible {
    public var port: ID?
    public var description: String
  }

  /// The datapath actions for `actions`.
  public func translate(_ actions: [FlowAction]) -> Result<
    [DatapathAction], Failure
  > {
    var result: [DatapathAction] = []
    result.reserveCapacity(actions.count)
    for action in actions {
      switch action {
      case .output(let port):
        guard let number = localPorts[port] else {
          return .failure(Failure(port: port, description: "port \(port) is not attached here"))
        }
        result.append(.output(port: number))
      case .tunnel(let port, let host, let key):
        guard let remote = endpoints[host] else {
          return .failure(
            Failure(port: port, description: "no tunnel endpoint for host \(host)"))
        }
        result.append(.encapsulate(tunnelKey: key, remote: remote))
      case .setEthernetSource(let mac): result.append(.setEthernetSource(mac))
      case .setEthernetDestination(let mac): result.append(.setEthernetDestination(mac))
      case .setNetworkSource(let ip): result.append(.setIPv4Source(ip))
      case .setNetworkDestination(let ip): result.append(.setIPv4Destination(ip))
      case .setTransportSource(let port): result.append(.setTransportSource(port))
      case .setTransportDestination(let port): result.append(.setTransportDestination(port))
      case .decrementTTL: result.append(.decrementTTL)
      case .setTTL(let ttl): result.append(.setTTL(ttl))
      case .pushVLAN(let vlan): result.append(.pushVLAN(VLANTag(id: vlan)))
      case .popVLAN: result.append(.popVLAN)
      }
    }
    return .success(result)
  }
}
