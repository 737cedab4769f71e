import Packets
import Testing

@Suite struct IPv4Tests {
  @Test func headerRoundTrip() throws {
    let frame = try PacketBuilder.ipv4(
      ethernet: Fixture.link,
      ipv4: IPv4Header(
        source: Fixture.ipA, destination: Fixture.ipB, ipProtocol: IPProtocol(rawValue: 47),
        ttl: 17, tos: 0xB8, identification: 0xBEEF, dontFragment: true),
      payload: [9, 9, 9])
    let packet = try PacketParser.parse(frame)
    let ip = try #require(packet.ipv4)
    #expect(ip.source == Fixture.ipA && ip.destination == Fixture.ipB)
    #expect(ip.ipProtocol.rawValue == 47)
    #expect(ip.ttl == 17)
    #expect(ip.tos == 0xB8 && ip.dscp == 46 && ip.ecn == 0)
    #expect(ip.identification == 0xBEEF)
    #expect(ip.dontFragment && !ip.moreFragments)
    #expect(ip.fragmentType == .none)
    #expect(ip.totalLength == 23)
    #expect(ip.headerLength == 20)
    #expect(packet.transport == nil && packet.issue == nil)
    #expect(packet.isIPv4ChecksumValid(in: frame) == true)
  }

  @Test func optionsAreSkippedAndPadded() throws {
    // Router alert (copied, 4 bytes) and a 3-byte unknown option, padded to 8.
    let options: [UInt8] = [0x94, 0x04, 0x00, 0x00, 0x07, 0x03, 0x00]
    let frame = try PacketBuilder.udp(
      ethernet: Fixture.link, ipv4: Fixture.ip, sourcePort: 67, destinationPort: 68,
      payload: [1, 2], options: options)
    let packet = try PacketParser.parse(frame)
    let ip = try #require(packet.ipv4)
    #expect(ip.headerLength == 28)
    #expect(Array(frame[34..<42]) == options + [0])
    #expect(packet.transportOffset == 42)
    #expect(packet.udp?.sourcePort == 67)
    #expect(packet.isIPv4ChecksumValid(in: frame) == true)
    #expect(packet.isTransportChecksumValid(in: frame) == true)
    #expect(throws: PacketError.self) {
      try PacketBuilder.ipv4(
        ethernet: Fixture.link, ipv4: Fixture.ip, options: [UInt8](repeating: 1, count: 41),
        payload: [])
    }
  }

  @Test func firstFragmentHasTransportLaterDoesNot() throws {
    let first = try PacketBuilder.udp(
      ethernet: Fixture.link,
      ipv4: IPv4Header(
        source: Fixture.ipA, destination: Fixture.ipB, identification: 5, moreFragments: true),
      sourcePort: 1000, destinationPort: 2000, payload: [UInt8](repeating: 1, count: 16))
    let later = try PacketBuilder.ipv4(
      ethernet: Fixture.link,
      ipv4: IPv4Header(
        source: Fixture.ipA, destination: Fixture.ipB, ipProtocol: .udp, identification: 5,
        fragmentOffset: 3),
      payload: [UInt8](repeating: 2, count: 16))
    let last = try PacketBuilder.ipv4(
      ethernet: Fixture.link,
      ipv4: IPv4Header(
        source: Fixture.ipA, destination: Fixture.ipB, ipProtocol: .udp, identification: 5,
        moreFragments: true, fragmentOffset: 5),
      payload: [UInt8](repeating: 3, count: 8))

    let firstMatch = try FlowMatch(frame: first, ingressPort: 1)
    #expect(firstMatch.fragmentType == .first)
    #expect(firstMatch.transportSource == 1000 && firstMatch.transportDestination == 2000)

    for frame in [later, last] {
      let packet = try PacketParser.parse(frame)
      #expect(packet.ipv4?.fragmentType == .later)
      #expect(packet.transport == nil)
      #expect(packet.issue == nil)
      #expect(packet.transportOffset == 34)
      let match = FlowMatch(packet, ingressPort: 1)
      #expect(match.fragmentType == .later)
      #expect(match.networkProtocol == .udp)
      #expect(match.networkSource == Fixture.ipA)
      #expect(!match.hasTransportLayer && match.tcpFlags == nil && match.icmpEchoID == nil)
      // A later fragment's first bytes look like a header but must not be read as one.
      #expect(packet.isTransportChecksumValid(in: frame) == nil)
    }
  }

  @Test func fragmentBuilderSplitsAndKeepsCopiedOptions() throws {
    let payload = (0..<100).map { UInt8($0) }
    let frame = try PacketBuilder.udp(
      ethernet: EthernetHeader(
        destination: Fixture.macB, source: Fixture.macA, vlan: VLANTag(id: 3)),
      ipv4: IPv4Header(source: Fixture.ipA, destination: Fixture.ipB, identification: 77),
      sourcePort: 7, destinationPort: 9, payload: payload,
      options: [0x94, 0x04, 0x00, 0x00, 0x07, 0x04, 0x00, 0x00])  // copied + not copied
    let fragments = try PacketBuilder.fragment(frame, mtu: 68)
    #expect(fragments.count == 3)
    var reassembled: [UInt8] = []
    for (index, fragment) in fragments.enumerated() {
      let packet = try PacketParser.parse(fragment)
      let ip = try #require(packet.ipv4)
      #expect(Int(ip.totalLength) <= 68)
      #expect(ip.identification == 77)
      #expect(packet.ethernet.vlan?.id == 3)
      #expect(Int(ip.fragmentOffset) * 8 == reassembled.count)
      #expect(ip.moreFragments == (index < fragments.count - 1))
      #expect(ip.headerLength == (index == 0 ? 28 : 24))
      #expect(ip.fragmentType == (index == 0 ? .first : .later))
      #expect(packet.isIPv4ChecksumValid(in: fragment) == true)
      if index > 0 { #expect(Array(fragment[38..<42]) == [0x94, 0x04, 0x00, 0x00]) }
      let start = try #require(packet.transportOffset)
      reassembled += fragment[start..<packet.networkEnd]
    }
    #expect(reassembled.count == 108)
    #expect(Array(reassembled[8...]) == payload)
    #expect(try PacketBuilder.fragment(frame, mtu: 1500) == [frame])

    var dontFragment = Fixture.ip
    dontFragment.dontFragment = true
    let big = try PacketBuilder.udp(
      ethernet: Fixture.link, ipv4: dontFragment, sourcePort: 1, destinationPort: 2,
      payload: payload)
    #expect(throws: PacketError.self) { try PacketBuilder.fragment(big, mtu: 68) }
    #expect(throws: PacketError.self) { try PacketBuilder.fragment(frame, mtu: 30) }
  }

  @Test func malformedHeadersArePartial() throws {
    let valid = try Fixture.udpFrame()
    var badVersion = valid
    badVersion[14] = 0x65
    var badIHL = valid
    badIHL[14] = 0x44
    var longIHL = valid
    longIHL[14] = 0x4F  // 60-byte header in a 33-byte datagram.
    var shortTotal = valid
    shortTotal[16] = 0
    shortTotal[17] = 19
    let cases: [([UInt8], PacketError.Code)] = [
      (badVersion, .invalidIPv4Version), (badIHL, .invalidIPv4HeaderLength),
      (longIHL, .truncatedIPv4), (shortTotal, .invalidIPv4TotalLength),
      (Array(valid[0..<33]), .truncatedIPv4),
    ]
    for (frame, code) in cases {
      let packet = try PacketParser.parse(frame)
      #expect(packet.issue == code)
      #expect(packet.ipv4 == nil)
      let match = FlowMatch(packet, ingressPort: 1)
      #expect(match.etherType == .ipv4 && !match.hasNetworkLayer && !match.hasTransportLayer)
      #expect(match.ethernetSource == Fixture.macA)
    }
  }

  @Test func paddingAfterDatagramIsIgnored() throws {
    // A 20-byte IPv4 header announcing no payload, in a frame padded to 60 bytes with
    // bytes that would parse as a TCP header.
    var frame = try PacketBuilder.ipv4(
      ethernet: Fixture.link,
      ipv4: IPv4Header(source: Fixture.ipA, destination: Fixture.ipB, ipProtocol: .tcp),
      payload: [])
    frame += [0x00, 0x50, 0x00, 0x50] + [UInt8](repeating: 0x50, count: 22)
    let packet = try PacketParser.parse(frame)
    #expect(packet.networkEnd == 34)
    #expect(packet.transport == nil)
    #expect(packet.issue == .truncatedTCP)
  }

  @Test func totalLengthBeyondFrameIsCut() throws {
    var frame = try Fixture.udpFrame(payload: [UInt8](repeating: 7, count: 40))
    frame.removeLast(20)
    let packet = try PacketParser.parse(frame)
    #expect(packet.networkEnd == frame.count)
    #expect(packet.udp?.sourcePort == 5353)
    #expect(packet.payloadRange == 42..<frame.count)
    #expect(packet.isTransportChecksumValid(in: frame) == nil)
    #expect(packet.isIPv4ChecksumValid(in: frame) == true)
  }

  @Test func oversizedDatagramIsRejectedByBuilder() {
    #expect(throws: PacketError.self) {
      try PacketBuilder.udp(
        ethernet: Fixture.link, ipv4: Fixture.ip, sourcePort: 1, destinationPort: 2,
        payload: [UInt8](repeating: 0, count: 65_508))
    }
  }
}
