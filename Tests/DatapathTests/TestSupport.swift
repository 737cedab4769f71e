import Addresses
import Datapath
import MidgeTestSupport
import Packets

/// Matches and frames shared by the tests.
enum Fixture {
  static let macA = MACAddress(0x02, 0x00, 0x00, 0x00, 0x00, 0x0A)
  static let macB = MACAddress(0x02, 0x00, 0x00, 0x00, 0x00, 0x0B)
  static let macRouter = MACAddress(0x02, 0x00, 0x00, 0x00, 0x00, 0x01)
  static let ipA = IPv4Address(10, 0, 0, 10)
  static let ipB = IPv4Address(10, 0, 1, 11)

  /// A distinct UDP match per `index`, as a sender's 5-tuples would give.
  static func udpMatch(_ index: Int, port: UInt32 = 1) -> FlowMatch {
    var match = FlowMatch(ingressPort: port, ethernetSource: macA, ethernetDestination: macB)
    match.networkSource = IPv4Address(rawValue: 0x0A00_0000 | UInt32(index >> 16 & 0xFF))
    match.networkDestination = ipB
    match.networkProtocol = .udp
    match.networkTOS = 0
    match.networkTTL = 64
    match.transportSource = UInt16(truncatingIfNeeded: index)
    match.transportDestination = 4000
    return match
  }

  static func udpFrame(
    source: IPv4Address = ipA, destination: IPv4Address = ipB, ttl: UInt8 = 64,
    payload: [UInt8] = Array(repeating: 0x5A, count: 22)
  ) throws -> [UInt8] {
    try PacketBuilder.udp(
      ethernet: EthernetHeader(destination: macB, source: macA),
      ipv4: IPv4Header(source: source, destination: destination, ttl: ttl),
      sourcePort: 1234, destinationPort: 4000, payload: payload)
  }

  static func tcpFrame() throws -> [UInt8] {
    try PacketBuilder.tcp(
      ethernet: EthernetHeader(destination: macB, source: macA),
      ipv4: IPv4Header(source: ipA, destination: ipB),
      tcp: TCPHeader(sourcePort: 40000, destinationPort: 80, sequenceNumber: 7, flags: [.syn]),
      payload: Array(0..<33))
  }

  static func pingFrame(ttl: UInt8 = 64) throws -> [UInt8] {
    try PacketBuilder.icmp(
      ethernet: EthernetHeader(destination: macB, source: macA),
      ipv4: IPv4Header(source: ipA, destination: ipB, ttl: ttl),
      icmp: ICMPHeader(type: .echoRequest, code: 0, restOfHeader: 0x1234_0001),
      payload: Array(repeating: 7, count: 56))
  }
}
