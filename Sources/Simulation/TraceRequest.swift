import Addresses
import Packets
import Topology

/// A packet described the way an operator types it for `midgectl trace`:
/// `tcp 10.0.0.2:1234 > 10.0.1.5:80`, `udp 10.0.0.2:53 > 10.0.0.3:53`,
/// `icmp 10.0.0.2 > 10.0.1.5`.
public struct TraceRequest: Sendable, Hashable {
  public enum Proto: String, Sendable { case tcp, udp, icmp }

  public var proto: Proto
  public var source: IPv4Address
  public var sourcePort: UInt16
  public var destination: IPv4Address
  public var destinationPort: UInt16

  /// Parses an operator's packet description. Any string is safe: what does not
  /// describe a packet is a ``TraceRequestError`` naming the part that is wrong.
  public init(parsing text: String) throws(TraceRequestError) {
    let example = "\"tcp 10.0.0.2:1234 > 10.0.1.5:80\" (tcp, udp or icmp)"
    let words = text.split(whereSeparator: \.isWhitespace).map(String.init)
    guard words.count == 4, words[2] == ">" else {
      throw TraceRequestError(
        .notAPacket, "'\(text)' is not a packet like \(example)")
    }
    guard let proto = Proto(rawValue: words[0].lowercased()) else {
      throw TraceRequestError(
        .unknownProtocol, "'\(words[0])' is not a protocol: use tcp, udp or icmp")
    }
    self.proto = proto
    (source, sourcePort) = try Self.endpoint(words[1], proto: proto)
    (destination, destinationPort) = try Self.endpoint(words[3], proto: proto)
  }

  /// `a.b.c.d:port` (tcp, udp) or `a.b.c.d` (icmp).
  static func endpoint(_ word: String, proto: Proto) throws(TraceRequestError) -> (
    IPv4Address, UInt16
  ) {
    let colon = word.firstIndex(of: ":")
    let addressText = colon.map { String(word[..<$0]) } ?? word
    let portText = colon.map { String(word[word.index(after: $0)...]) }
    guard !addressText.isEmpty else {
      throw TraceRequestError(.badAddress, "'\(word)' has no address before the port")
    }
    guard let address = IPv4Address(addressText) else {
      throw TraceRequestError(.badAddress, "'\(addressText)' is not an IPv4 address")
    }
    guard let portText else {
      if proto == .icmp { return (address, 0) }
      throw TraceRequestError(
        .missingPort, "'\(word)' needs a port for \(proto.rawValue), like \(address):80")
    }
    guard proto != .icmp else {
      throw TraceRequestError(.badPort, "'\(word)': icmp has no ports; write just the address")
    }
    guard !portText.isEmpty, portText.utf8.count <= 5,
      portText.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
      let port = UInt16(portText)
    else {
      throw TraceRequestError(.badPort, "'\(portText)' in '\(word)' is not a port (0...65535)")
    }
    return (address, port)
  }

  /// The first packet of the connection as an Ethernet frame.
  public func frame(
    source sourceMAC: MACAddress, destination destinationMAC: MACAddress
  )
    throws -> [UInt8]
  {
    let ethernet = EthernetHeader(destination: destinationMAC, source: sourceMAC)
    let ip = IPv4Header(source: source, destination: destination)
    switch proto {
    case .tcp:
      return try PacketBuilder.tcp(
        ethernet: ethernet, ipv4: ip,
        tcp: TCPHeader(sourcePort: sourcePort, destinationPort: destinationPort, flags: [.syn]))
    case .udp:
      return try PacketBuilder.udp(
        ethernet: ethernet, ipv4: ip, sourcePort: sourcePort, destinationPort: destinationPort)
    case .icmp:
      return try PacketBuilder.icmp(
        ethernet: ethernet, ipv4: ip,
        icmp: ICMPHeader(type: .echoRequest, restOfHeader: 0x0001_0001))
    }
  }
}

public struct TraceRequestError: Error, CustomStringConvertible, Sendable {
  public enum Code: Sendable, Hashable {
    /// Not four words `PROTO SOURCE > DESTINATION`.
    case notAPacket
    case unknownProtocol
    case badAddress
    /// tcp or udp without a port.
    case missingPort
    /// Not a number 0...65535, or a port on icmp.
    case badPort
  }

  public var code: Code
  public var message: String
  public var cause: (any Error)?

  public init(_ code: Code, _ message: String, cause: (any Error)? = nil) {
    self.code = code
    self.message = message
    self.cause = cause
  }

  public var description: String { cause.map { "\(message): \($0)" } ?? message }
}

/// Runs one traced simulation for an operator: picks the MACs a VM would use
/// (its own from DHCP or a made-up one; the gateway's for another subnet, the
/// destination's when known, else broadcast) and simulates with tracing on.
public enum TraceRunner {
  public static func run(
    _ request: TraceRequest, ingress: ID, view: SimulationView, localHost: ID
  ) throws -> SimulationResult {
    let topology = view.topology
    let sourceMAC =
      knownMAC(request.source, view: view) ?? MACAddress(0x02, 0x00, 0x00, 0xAA, 0xBB, 0x01)
    var destinationMAC = knownMAC(request.destination, view: view) ?? .broadcast
    if case .bridge(let bridge)? = topology.ports[ingress]?.device,
      let gateway = gateway(on: bridge, for: request.source, topology: topology),
      let subnet = gateway.portSubnet,
      !subnet.contains(request.destination),
      let mac = gateway.portMAC
    {
      destinationMAC = mac
    }
    let frame = try request.frame(source: sourceMAC, destination: destinationMAC)
    let packet = try SimulationPacket(frame: frame)
    let simulator = Simulator(localHost: localHost)
    return simulator.simulate(packet, ingress: ingress, view: view, trace: true)
  }

  /// The router port linked to `bridge` whose subnet holds `address`.
  static func gateway(on bridge: ID, for address: IPv4Address, topology: TopologySnapshot)
    -> Port?
  {
    for portID in topology.bridges[bridge]?.portIds ?? [] {
      guard let peer = topology.ports[portID]?.peerId.flatMap({ topology.ports[$0] }),
        let subnet = peer.portSubnet, subnet.contains(address)
      else { continue }
      return peer
    }
    return nil
  }

  static func knownMAC(_ address: IPv4Address, view: SimulationView) -> MACAddress? {
    for dhcp in view.topology.dhcps.values {
      if let host = dhcp.hosts.first(where: { $0.ip == address }) {
        return host.mac
      }
    }
    return view.bridgeIPTable.first { $0.key.ip == address }?.value
  }
}
