import Addresses
import Packets
import Testing

@Suite struct VXLANTests {
  @Test func headerLayout() throws {
    let payload = VXLANHeader.encapsulate([0xEE], vni: 0x12_3456)
    #expect(payload == [0x08, 0, 0, 0, 0x12, 0x34, 0x56, 0x00, 0xEE])
    #expect(VXLANHeader(vni: 0xFFFF_FFFF).vni == VXLANHeader.maximumVNI)
  }

  @Test func frameRoundTrip() throws {
    let inner = try Fixture.tcpFrame()
    let frame = try Fixture.vxlanFrame()
    let outer = try PacketParser.parse(frame)
    #expect(outer.udp?.destinationPort == 4789 && outer.udp?.sourcePort == 50_000)
    #expect(outer.udp?.checksum == 0)
    #expect(outer.isIPv4ChecksumValid(in: frame) == true)

    let (vni, decapsulated) = try VXLANHeader.decapsulate(frame: frame)
    #expect(vni == 0xABCDE)
    #expect(decapsulated == inner)

    let tunnel = try frame.withUnsafeBytes { bytes throws(PacketError) in
      try VXLANHeader.decapsulate(frame: bytes)
    }
    #expect(tunnel.outer?.ipv4?.destination == IPv4Address(192, 168, 0, 2))
    #expect(tunnel.innerRange == 50..<frame.count)
    let match = try FlowMatch(frame: decapsulated, ingressPort: 5, tunnelKey: vni)
    #expect(match.tunnelKey == 0xABCDE && match.ingressPort == 5)
    #expect(match.transportDestination == 80)
    #expect(match.description.contains("tun_id=703710"))
  }

  @Test func payloadRoundTrip() throws {
    let inner = Fixture.arpFrame()
    let payload = VXLANHeader.encapsulate(inner, vni: 42)
    let tunnel = try payload.withUnsafeBytes { bytes throws(PacketError) in
      try VXLANHeader.decapsulate(payload: bytes)
    }
    #expect(tunnel.header.vni == 42 && tunnel.outer == nil)
    #expect(Array(payload[tunnel.innerRange]) == inner)
  }

  @Test func checksummedEncapsulationVerifies() throws {
    let frame = try PacketBuilder.vxlan(
      ethernet: Fixture.link, ipv4: Fixture.ip, sourcePort: 1, vni: 7,
      inner: Fixture.arpFrame(), computeChecksum: true)
    let packet = try PacketParser.parse(frame)
    #expect(packet.udp?.checksum != 0)
    #expect(packet.isTransportChecksumValid(in: frame) == true)
  }

  @Test func rejectsWhatIsNotVXLAN() throws {
    func code(_ frame: [UInt8]) -> PacketError.Code? {
      do {
        _ = try VXLANHeader.decapsulate(frame: frame)
        return nil
      } catch {
        return error.code
      }
    }
    #expect(code(try Fixture.udpFrame()) == .notVXLAN)
    #expect(code(Fixture.arpFrame()) == .notVXLAN)
    #expect(code([1, 2, 3]) == .truncatedEthernet)
    var flagless = try Fixture.vxlanFrame()
    flagless[42] = 0
    #expect(code(flagless) == .invalidVXLANFlags)
    let short = try PacketBuilder.udp(
      ethernet: Fixture.link, ipv4: Fixture.ip, sourcePort: 1, destinationPort: 4789,
      payload: [8, 0, 0, 0])
    #expect(code(short) == .truncatedVXLAN)
    // A custom port is honoured.
    let custom = try PacketBuilder.vxlan(
      ethernet: Fixture.link, ipv4: Fixture.ip, sourcePort: 1, destinationPort: 6081, vni: 9,
      inner: [])
    #expect(code(custom) == .notVXLAN)
    #expect(try VXLANHeader.decapsulate(frame: custom, port: 6081).vni == 9)
  }

  @Test func sourcePortIsStablePerFlowAndEphemeral() throws {
    let match = try FlowMatch(frame: Fixture.tcpFrame(), ingressPort: 1)
    let port = PacketBuilder.vxlanSourcePort(for: match)
    #expect(port >= 49_152)
    #expect(PacketBuilder.vxlanSourcePort(for: match) == port)
  }
}
