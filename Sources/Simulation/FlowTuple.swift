import Addresses
import Packets

/// The 5-tuple that identifies a connection: what conntrack and NAT key on.
///
/// For ICMP echo both ports carry the echo identifier, so a request and its
/// reply have mirror-image tuples exactly as TCP and UDP do, and NAT can treat
/// the identifier as a port (as Linux and MidoNet do). For other ICMP messages
/// and other protocols the ports are 0.
public struct FlowTuple: Hashable, Sendable, CustomStringConvertible {
  public var source: IPv4Address
  public var destination: IPv4Address
  public var ipProtocol: UInt8
  public var sourcePort: UInt16
  public var destinationPort: UInt16

  public init(
    source: IPv4Address, destination: IPv4Address, ipProtocol: UInt8,
    sourcePort: UInt16, destinationPort: UInt16
  ) {
    self.source = source
    self.destination = destination
    self.ipProtocol = ipProtocol
    self.sourcePort = sourcePort
    self.destinationPort = destinationPort
  }

  /// The tuple of a packet, or nil when it is not IPv4.
  public init?(_ match: FlowMatch) {
    guard let source = match.networkSource, let destination = match.networkDestination else {
      return nil
    }
    let proto = match.networkProtocol?.rawValue ?? 0
    var sourcePort: UInt16 = 0
    var destinationPort: UInt16 = 0
    if proto == IPProtocol.icmp.rawValue {
      sourcePort = match.icmpEchoID ?? 0
      destinationPort = sourcePort
    } else if proto == IPProtocol.tcp.rawValue || proto == IPProtocol.udp.rawValue {
      sourcePort = match.transportSource ?? 0
      destinationPort = match.transportDestination ?? 0
    }
    self.init(
      source: source, destination: destination, ipProtocol: proto, sourcePort: sourcePort,
      destinationPort: destinationPort)
  }

  /// The tuple of the reply direction.
  public var reversed: FlowTuple {
    FlowTuple(
      source: destination, destination: source, ipProtocol: ipProtocol,
      sourcePort: destinationPort, destinationPort: sourcePort)
  }

  public var description: String {
    "\(source):\(sourcePort) > \(destination):\(destinationPort) proto \(ipProtocol)"
  }
}
