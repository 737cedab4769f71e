import Addresses
import MidgeTestSupport
import Packets
import Testing

/// In-place rewrites must give byte-for-byte the frame a builder makes with the new
/// values: that is "incremental update equals full recomputation" on whole packets.
@Suite struct RewriteTests {
  private struct Flow {
    var source: IPv4Address
    var destination: IPv4Address
    var sourcePort: UInt16
    var destinationPort: UInt16
    var ttl: UInt8

    static func random(using random: inout SplitMix64) -> Flow {
      Flow(
        source: IPv4Address(rawValue: .random(in: 0...UInt32.max, using: &random)),
        destination: IPv4Address(rawValue: .random(in: 0...UInt32.max, using: &random)),
        sourcePort: .random(in: 0...UInt16.max, using: &random),
        destinationPort: .random(in: 0...UInt16.max, using: &random),
        ttl: .random(in: 2...UInt8.max, using: &random))
    }

    func frame(protocol kind: IPProtocol, payload: [UInt8]) throws -> [UInt8] {
      let ip = IPv4Header(source: source, destination: destination, ttl: ttl)
      switch kind {
      case .tcp:
        return try PacketBuilder.tcp(
          ethernet: Fixture.link, ipv4: ip,
          tcp: TCPHeader(
            sourcePort: sourcePort, destinationPort: destinationPort, sequenceNumber: 99,
            flags: .ack),
          payload: payload)
      case .udp:
        return try PacketBuilder.udp(
          ethernet: Fixture.link, ipv4: ip, sourcePort: sourcePort,
          destinationPort: destinationPort, payload: payload)
      default:
        return try PacketBuilder.icmp(
          ethernet: Fixture.link, ipv4: ip,
          icmp: .echo(identifier: sourcePort, sequenceNumber: 3), payload: payload)
      }
    }
  }

  @Test(arguments: [IPProtocol.tcp, .udp, .icmp])
  func incrementalRewriteEqualsRebuild(_ kind: IPProtocol) throws {
    var random = SplitMix64(seed: 0x5EED + UInt64(kind.rawValue))
    for _ in 0..<300 {
      let payload = random.bytes(Int.random(in: 0..<64, using: &random))
      let before = Flow.random(using: &random)
      var after = Flow.random(using: &random)
      after.ttl = before.ttl
      var frame = try before.frame(protocol: kind, payload: payload)
      var packet = try PacketParser.parse(frame)

      try packet.setNetworkSource(after.source, in: &frame)
      try packet.setNetworkDestination(after.destination, in: &frame)
      try packet.setTransportSource(after.sourcePort, in: &frame)
      if kind == .icmp {
        #expect(throws: PacketError.self) { try packet.setTransportDestination(1, in: &frame) }
        after.destinationPort = before.destinationPort
      } else {
        try packet.setTransportDestination(after.destinationPort, in: &frame)
      }
      #expect(try packet.decrementTTL(in: &frame))
      after.ttl -= 1

      let rebuilt = try after.frame(protocol: kind, payload: payload)
      #expect(frame == rebuilt)
      #expect(packet == (try PacketParser.parse(frame)))
      #expect(packet.isIPv4ChecksumValid(in: frame) == true)
      #expect(packet.isTransportChecksumValid(in: frame) == true)
    }
  }

  @Test func ttlExpiryLeavesFrameUntouched() throws {
    for ttl: UInt8 in [0, 1] {
      var frame = try PacketBuilder.udp(
        ethernet: Fixture.link,
        ipv4: IPv4Header(source: Fixture.ipA, destination: Fixture.ipB, ttl: ttl),
        sourcePort: 1, destinationPort: 2)
      let original = frame
      var packet = try PacketParser.parse(frame)
      #expect(try packet.decrementTTL(in: &frame) == false)
      #expect(frame == original)
    }
  }

  @Test func setTTLUpdatesTheIPv4ChecksumIncrementally() throws {
    for ttl: UInt8 in [0, 1, 64, 128, 255] {
      var frame = try Fixture.udpFrame()
      var packet = try PacketParser.parse(frame)
      var ip = Fixture.ip
      ip.ttl = ttl
      let expected = try PacketBuilder.udp(
        ethernet: Fixture.link, ipv4: ip, sourcePort: 5353, destinationPort: 53,
        payload: [1, 2, 3, 4, 5])
      try packet.setTTL(ttl, in: &frame)
      #expect(frame == expected)
      #expect(packet.isIPv4ChecksumValid(in: frame) == true)
      #expect(packet == (try PacketParser.parse(frame)))
    }
  }

  @Test func zeroUDPChecksumStaysZero() throws {
    var frame = try PacketBuilder.udp(
      ethernet: Fixture.link, ipv4: Fixture.ip, sourcePort: 1, destinationPort: 2,
      payload: [1, 2, 3], computeChecksum: false)
    var packet = try PacketParser.parse(frame)
    try packet.setNetworkDestination(IPv4Address(8, 8, 8, 8), in: &frame)
    try packet.setTransportDestination(53, in: &frame)
    #expect(packet.udp?.checksum == 0)
    #expect(frame[40] == 0 && frame[41] == 0)
    #expect(packet.isIPv4ChecksumValid(in: frame) == true)
  }

  @Test func firstFragmentChecksumUpdatesLaterFragmentOnlyIP() throws {
    let datagram = try PacketBuilder.udp(
      ethernet: Fixture.link,
      ipv4: IPv4Header(source: Fixture.ipA, destination: Fixture.ipB, identification: 1),
      sourcePort: 1000, destinationPort: 2000, payload: [UInt8](repeating: 0x42, count: 40))
    var fragments = try PacketBuilder.fragment(datagram, mtu: 40)
    #expect(fragments.count == 3)
    let newSource = IPv4Address(172, 16, 0, 9)
    for index in fragments.indices {
      var packet = try PacketParser.parse(fragments[index])
      try packet.setNetworkSource(newSource, in: &fragments[index])
      #expect(packet.isIPv4ChecksumValid(in: fragments[index]) == true)
      if index > 0 {
        #expect(throws: PacketError.self) {
          try packet.setTransportSource(1, in: &fragments[index])
        }
      }
    }
    // Reassemble and check the UDP checksum, which spans all fragments, against a
    // datagram built with the new source.
    let rebuilt = try PacketBuilder.udp(
      ethernet: Fixture.link,
      ipv4: IPv4Header(source: newSource, destination: Fixture.ipB, identification: 1),
      sourcePort: 1000, destinationPort: 2000, payload: [UInt8](repeating: 0x42, count: 40))
    #expect(Array(fragments[0][40..<42]) == Array(rebuilt[40..<42]))
  }

  @Test func recomputeCompletesPartialChecksums() throws {
    for var frame in [try Fixture.tcpFrame(), try Fixture.udpFrame(), try Fixture.icmpEchoFrame()] {
      let expected = frame
      var packet = try PacketParser.parse(frame)
      let offset = packet.tcp != nil ? 50 : packet.udp != nil ? 40 : 36
      frame[offset] = 0x12  // A partial checksum, as CHECKSUM_PARTIAL leaves it.
      frame[offset + 1] = 0x34
      frame[24] = 0  // And a wrong IPv4 checksum.
      packet = try PacketParser.parse(frame)
      #expect(packet.isTransportChecksumValid(in: frame) == false)
      #expect(packet.isIPv4ChecksumValid(in: frame) == false)
      packet.recomputeChecksums(in: &frame)
      #expect(frame == expected)
      #expect(packet == (try PacketParser.parse(expected)))
    }
  }

  @Test func ethernetRewrite() throws {
    var frame = try Fixture.udpFrame()
    var packet = try PacketParser.parse(frame)
    packet.setEthernetSource(Fixture.macRouter, in: &frame)
    packet.setEthernetDestination(.broadcast, in: &frame)
    #expect(packet == (try PacketParser.parse(frame)))
    #expect(packet.ethernet.source == Fixture.macRouter)
    #expect(packet.isTransportChecksumValid(in: frame) == true)
  }

  @Test func rewritesNeedTheirLayer() throws {
    var arp = Fixture.arpFrame()
    var packet = try PacketParser.parse(arp)
    #expect(throws: PacketError.self) { try packet.setNetworkSource(Fixture.ipB, in: &arp) }
    #expect(throws: PacketError.self) { try packet.decrementTTL(in: &arp) }
    #expect(throws: PacketError.self) { try packet.setTransportSource(1, in: &arp) }
    var udp = try Fixture.udpFrame()
    packet = try PacketParser.parse(udp)
    var short = Array(udp[0..<30])
    #expect(throws: PacketError.self) { try packet.setNetworkSource(Fixture.ipB, in: &short) }
    let unreachable = try PacketBuilder.icmpError(
      type: .destinationUnreachable, code: 3, quoting: udp, ethernetSource: Fixture.macRouter,
      networkSource: Fixture.ipRouter)
    var icmpPacket = try PacketParser.parse(unreachable)
    var icmpFrame = unreachable
    #expect(throws: PacketError.self) { try icmpPacket.setTransportSource(1, in: &icmpFrame) }
    try packet.setTransportSource(9, in: &udp)
    #expect(packet.udp?.sourcePort == 9)
  }
}
