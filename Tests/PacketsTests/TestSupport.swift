import Addresses
import MidgeTestSupport
import Packets
import Testing

/// Addresses shared by the tests.
enum Fixture {
  static let macA = MACAddress(0x02, 0x00, 0x00, 0x00, 0x00, 0x0A)
  static let macB = MACAddress(0x02, 0x00, 0x00, 0x00, 0x00, 0x0B)
  static let macRouter = MACAddress(0x02, 0x00, 0x00, 0x00, 0x00, 0x01)
  static let ipA = IPv4Address(10, 0, 0, 1)
  static let ipB = IPv4Address(10, 0, 0, 2)
  static let ipRouter = IPv4Address(10, 0, 0, 254)

  static var link: EthernetHeader { EthernetHeader(destination: macB, source: macA) }
  static var ip: IPv4Header { IPv4Header(source: ipA, destination: ipB) }

  static func udpFrame(payload: [UInt8] = [1, 2, 3, 4, 5]) throws -> [UInt8] {
    try PacketBuilder.udp(
      ethernet: link, ipv4: ip, sourcePort: 5353, destinationPort: 53, payload: payload)
  }

  static func tcpFrame(
    flags: TCPFlags = [.psh, .ack], payload: [UInt8] = Array("hello".utf8)
  ) throws -> [UInt8] {
    try PacketBuilder.tcp(
      ethernet: link, ipv4: ip,
      tcp: TCPHeader(
        sourcePort: 40_000, destinationPort: 80, sequenceNumber: 0x1000_0000,
        acknowledgmentNumber: 0x2000_0000, flags: flags),
      payload: payload)
  }

  static func icmpEchoFrame() throws -> [UInt8] {
    try PacketBuilder.icmp(
      ethernet: link, ipv4: ip, icmp: .echo(identifier: 0x1234, sequenceNumber: 7),
      payload: Array("ping".utf8))
  }

  static func arpFrame() -> [UInt8] {
    PacketBuilder.arpRequest(senderMAC: macA, senderIP: ipA, targetIP: ipB)
  }

  static func vxlanFrame() throws -> [UInt8] {
    try PacketBuilder.vxlan(
      ethernet: EthernetHeader(destination: macRouter, source: macA),
      ipv4: IPv4Header(
        source: IPv4Address(192, 168, 0, 1), destination: IPv4Address(192, 168, 0, 2)),
      sourcePort: 50_000, vni: 0xABCDE, inner: try tcpFrame())
  }
}

/// The invariants every parse result must satisfy, whatever the input: offsets inside
/// the frame and in order, later fragments without L4, and a flow match consistent with
/// the layers found.
func checkParseInvariants(_ frame: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
  guard let packet = try? PacketParser.parse(frame) else { return }
  #expect(packet.networkOffset <= frame.count, sourceLocation: sourceLocation)
  #expect(packet.networkEnd <= frame.count, sourceLocation: sourceLocation)
  if let transportOffset = packet.transportOffset {
    #expect(transportOffset <= packet.networkEnd, sourceLocation: sourceLocation)
  }
  if let range = packet.payloadRange {
    #expect(range.upperBound <= frame.count, sourceLocation: sourceLocation)
  }
  if packet.ipv4?.fragmentType == .later {
    #expect(packet.transport == nil, sourceLocation: sourceLocation)
  }
  let match = FlowMatch(packet, ingressPort: 1)
  #expect(match.hasNetworkLayer == (packet.ipv4 != nil), sourceLocation: sourceLocation)
  #expect(match.hasTransportLayer == (packet.transport != nil), sourceLocation: sourceLocation)
  #expect(match.hasARP == (packet.arp != nil), sourceLocation: sourceLocation)
  _ = packet.isIPv4ChecksumValid(in: frame)
  _ = packet.isTransportChecksumValid(in: frame)
  _ = packet.icmpQuote(in: frame)
  _ = packet.mayElicitICMPError
}
