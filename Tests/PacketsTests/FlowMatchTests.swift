import Packets
import Testing

@Suite struct FlowMatchTests {
  @Test func tcpFields() throws {
    let frame = try PacketBuilder.tcp(
      ethernet: EthernetHeader(
        destination: Fixture.macB, source: Fixture.macA, vlan: VLANTag(id: 12)),
      ipv4: IPv4Header(source: Fixture.ipA, destination: Fixture.ipB, ttl: 33, tos: 0x10),
      tcp: TCPHeader(sourcePort: 1234, destinationPort: 22, flags: .syn))
    let match = try FlowMatch(frame: frame, ingressPort: 17, tunnelKey: 0)
    var expected = FlowMatch(
      ingressPort: 17, ethernetSource: Fixture.macA, ethernetDestination: Fixture.macB,
      etherType: .ipv4, vlanID: 12)
    expected.networkSource = Fixture.ipA
    expected.networkDestination = Fixture.ipB
    expected.networkProtocol = .tcp
    expected.networkTOS = 0x10
    expected.networkTTL = 33
    expected.transportSource = 1234
    expected.transportDestination = 22
    expected.tcpFlags = .syn
    #expect(match == expected)
    #expect(match.hashValue == expected.hashValue)
    #expect(
      match.description
        == "in_port=17 eth_src=02:00:00:00:00:0a eth_dst=02:00:00:00:00:0b vlan=12 "
        + "eth_type=ipv4 nw_src=10.0.0.1 nw_dst=10.0.0.2 nw_proto=tcp nw_tos=16 nw_ttl=33 "
        + "tp_src=1234 tp_dst=22 tcp_flags=syn")
  }

  @Test func packetsOfOneFlowShareAKeyAndOthersDoNot() throws {
    let one = try FlowMatch(frame: Fixture.udpFrame(payload: [1]), ingressPort: 1)
    let two = try FlowMatch(frame: Fixture.udpFrame(payload: [2, 3, 4]), ingressPort: 1)
    #expect(one == two)
    let otherPort = try FlowMatch(frame: Fixture.udpFrame(), ingressPort: 2)
    #expect(one != otherPort)
    let tunnelled = try FlowMatch(frame: Fixture.udpFrame(), ingressPort: 1, tunnelKey: 5)
    #expect(one != tunnelled)
    let keys: Set<FlowMatch> = [one, two, otherPort, tunnelled]
    #expect(keys.count == 3)
  }

  /// An absent L4 never collides with port 0.
  @Test func absentTransportDiffersFromZeroPorts() throws {
    let zeroPorts = try FlowMatch(
      frame: PacketBuilder.udp(
        ethernet: Fixture.link, ipv4: Fixture.ip, sourcePort: 0, destinationPort: 0),
      ingressPort: 1)
    let truncated = try FlowMatch(
      frame: Array(
        PacketBuilder.udp(
          ethernet: Fixture.link, ipv4: Fixture.ip, sourcePort: 0, destinationPort: 0)[0..<40]),
      ingressPort: 1)
    #expect(zeroPorts != truncated)
    #expect(zeroPorts.transportSource == 0 && truncated.transportSource == nil)
  }

  @Test func nonIPFrameHasOnlyL2() throws {
    let frame = PacketBuilder.ethernet(
      EthernetHeader(destination: .broadcast, source: Fixture.macA, etherType: .ipv6), payload: [])
    let match = try FlowMatch(frame: frame, ingressPort: 1)
    #expect(match.etherType == .ipv6)
    #expect(!match.hasNetworkLayer && !match.hasTransportLayer && !match.hasARP)
    #expect(match.fragmentType == .none)
  }

  @Test func bufferPointerEntryPoint() throws {
    let frame = try Fixture.icmpEchoFrame()
    let match = try frame.withUnsafeBytes { bytes throws(PacketError) in
      try FlowMatch(frame: bytes, ingressPort: 8)
    }
    #expect(match == (try FlowMatch(frame: frame, ingressPort: 8)))
    #expect(match.description.hasSuffix("tp_src=8 tp_dst=0 icmp_id=4660"))
  }
}
