import Packets
import Testing

@Suite struct TCPTests {
  @Test func roundTripWithOptions() throws {
    let mss: [UInt8] = [0x02, 0x04, 0x05, 0xB4, 0x01, 0x03, 0x03]  // MSS, NOP, WS (padded).
    let frame = try PacketBuilder.tcp(
      ethernet: Fixture.link, ipv4: Fixture.ip,
      tcp: TCPHeader(
        sourcePort: 51_000, destinationPort: 443, sequenceNumber: 0xDEAD_BEEF,
        acknowledgmentNumber: 0x0102_0304, flags: [.syn, .ack, .ece], window: 29_200,
        urgentPointer: 0),
      tcpOptions: mss, payload: [0xAA, 0xBB, 0xCC])
    let packet = try PacketParser.parse(frame)
    let tcp = try #require(packet.tcp)
    #expect(tcp.sourcePort == 51_000 && tcp.destinationPort == 443)
    #expect(tcp.sequenceNumber == 0xDEAD_BEEF && tcp.acknowledgmentNumber == 0x0102_0304)
    #expect(tcp.flags == [.syn, .ack, .ece])
    #expect(tcp.flags.description == "syn|ack|ece")
    #expect(tcp.window == 29_200)
    #expect(tcp.headerLength == 28)
    #expect(packet.payloadRange.map { Array(frame[$0]) } == [0xAA, 0xBB, 0xCC])
    #expect(packet.isTransportChecksumValid(in: frame) == true)
    let match = FlowMatch(packet, ingressPort: 4)
    #expect(match.networkProtocol == .tcp)
    #expect(match.transportSource == 51_000 && match.transportDestination == 443)
    #expect(match.tcpFlags == [.syn, .ack, .ece])
    #expect(match.icmpEchoID == nil)
  }

  @Test func allNineFlagBitsSurvive() throws {
    let all: TCPFlags = [.fin, .syn, .rst, .psh, .ack, .urg, .ece, .cwr, .ns]
    let frame = try Fixture.tcpFrame(flags: all)
    #expect(try PacketParser.parse(frame).tcp?.flags == all)
    #expect(TCPFlags().description == "none")
  }

  @Test func truncatedHeaderKeepsL2AndL3() throws {
    let frame = try Fixture.tcpFrame()
    for cut in 34..<54 {
      let packet = try PacketParser.parse(Array(frame[0..<cut]))
      #expect(packet.ipv4?.source == Fixture.ipA)
      #expect(packet.transport == nil)
      #expect(packet.issue == .truncatedTCP)
      let match = FlowMatch(packet, ingressPort: 1)
      #expect(match.networkProtocol == .tcp && match.networkDestination == Fixture.ipB)
      #expect(!match.hasTransportLayer && match.tcpFlags == nil)
    }
  }

  @Test func badDataOffsetIsPartial() throws {
    var frame = try Fixture.tcpFrame()
    frame[46] = 0x40  // Data offset 4.
    #expect(try PacketParser.parse(frame).issue == .invalidTCPDataOffset)
    frame[46] = 0xF0  // Data offset 15: 60 bytes, more than present.
    #expect(try PacketParser.parse(frame).issue == .truncatedTCP)
  }

  /// A segment without ACK is answered with <SEQ=0><ACK=SEG.SEQ+SEG.LEN><RST,ACK>;
  /// SYN and FIN each count one.
  @Test func resetForSegmentWithoutAck() throws {
    let syn = try Fixture.tcpFrame(flags: [.syn, .fin], payload: [1, 2, 3])
    let reset = try PacketBuilder.tcpReset(replyingTo: syn)
    let packet = try PacketParser.parse(reset)
    #expect(packet.ethernet.source == Fixture.macB && packet.ethernet.destination == Fixture.macA)
    #expect(packet.ipv4?.source == Fixture.ipB && packet.ipv4?.destination == Fixture.ipA)
    let tcp = try #require(packet.tcp)
    #expect(tcp.sourcePort == 80 && tcp.destinationPort == 40_000)
    #expect(tcp.flags == [.rst, .ack])
    #expect(tcp.sequenceNumber == 0)
    #expect(tcp.acknowledgmentNumber == 0x1000_0000 + 5)
    #expect(packet.isTransportChecksumValid(in: reset) == true)
    #expect(packet.isIPv4ChecksumValid(in: reset) == true)
  }

  /// A segment with ACK is answered with <SEQ=SEG.ACK><RST>.
  @Test func resetForSegmentWithAck() throws {
    let segment = try Fixture.tcpFrame(flags: [.psh, .ack])
    let tcp = try #require(try PacketParser.parse(PacketBuilder.tcpReset(replyingTo: segment)).tcp)
    #expect(tcp.flags == .rst)
    #expect(tcp.sequenceNumber == 0x2000_0000)
  }

  @Test func resetIsNeverAnsweredOrBuiltForNonTCP() throws {
    #expect(throws: PacketError.self) {
      try PacketBuilder.tcpReset(replyingTo: Fixture.tcpFrame(flags: .rst))
    }
    #expect(throws: PacketError.self) { try PacketBuilder.tcpReset(replyingTo: Fixture.udpFrame()) }
  }

  @Test func resetSequenceWraps() throws {
    let frame = try PacketBuilder.tcp(
      ethernet: Fixture.link, ipv4: Fixture.ip,
      tcp: TCPHeader(sourcePort: 1, destinationPort: 2, sequenceNumber: .max, flags: .syn))
    let reset = try PacketParser.parse(PacketBuilder.tcpReset(replyingTo: frame))
    #expect(reset.tcp?.acknowledgmentNumber == 0)
  }
}

@Suite struct UDPTests {
  @Test func roundTrip() throws {
    let frame = try Fixture.udpFrame(payload: [1, 2, 3])
    #expect(frame.count == 14 + 20 + 8 + 3)
    let packet = try PacketParser.parse(frame)
    let udp = try #require(packet.udp)
    #expect(udp.sourcePort == 5353 && udp.destinationPort == 53 && udp.length == 11)
    #expect(packet.payloadRange == 42..<45)
    #expect(packet.isTransportChecksumValid(in: frame) == true)
    let match = FlowMatch(packet, ingressPort: 2)
    #expect(match.networkProtocol == .udp && match.networkTTL == 64 && match.networkTOS == 0)
    #expect(match.transportSource == 5353 && match.transportDestination == 53)
    #expect(match.tcpFlags == nil)
  }

  @Test func zeroChecksumMeansNone() throws {
    let frame = try PacketBuilder.udp(
      ethernet: Fixture.link, ipv4: Fixture.ip, sourcePort: 1, destinationPort: 2,
      payload: [5], computeChecksum: false)
    let packet = try PacketParser.parse(frame)
    #expect(packet.udp?.checksum == 0)
    #expect(packet.isTransportChecksumValid(in: frame) == true)
    #expect(frame.withUnsafeBytes { packet.expectedTransportChecksum(in: $0) } != nil)
  }

  @Test func lengthFieldBoundsPayload() throws {
    var frame = try Fixture.udpFrame(payload: [1, 2, 3, 4])
    frame[38] = 0
    frame[39] = 10  // UDP length 10: two payload bytes.
    let packet = try PacketParser.parse(frame)
    #expect(packet.payloadRange == 42..<44)
    frame[39] = 7
    #expect(try PacketParser.parse(frame).issue == .invalidUDPLength)
    #expect(try PacketParser.parse(Array(frame[0..<41])).issue == .truncatedUDP)
  }
}

@Suite struct ICMPTests {
  @Test func echoRoundTripAndReply() throws {
    let request = try Fixture.icmpEchoFrame()
    let packet = try PacketParser.parse(request)
    let icmp = try #require(packet.icmp)
    #expect(icmp.type == .echoRequest && icmp.code == 0)
    #expect(icmp.identifier == 0x1234 && icmp.sequenceNumber == 7)
    #expect(packet.isTransportChecksumValid(in: request) == true)
    let match = FlowMatch(packet, ingressPort: 1)
    #expect(match.networkProtocol == .icmp)
    #expect(match.transportSource == 8 && match.transportDestination == 0)
    #expect(match.icmpEchoID == 0x1234)

    let reply = try PacketBuilder.icmpEchoReply(to: request)
    let replyPacket = try PacketParser.parse(reply)
    #expect(replyPacket.ethernet.destination == Fixture.macA)
    #expect(replyPacket.ipv4?.destination == Fixture.ipA && replyPacket.ipv4?.source == Fixture.ipB)
    #expect(replyPacket.icmp?.type == .echoReply)
    #expect(replyPacket.icmp?.identifier == 0x1234 && replyPacket.icmp?.sequenceNumber == 7)
    #expect(replyPacket.payloadRange.map { Array(reply[$0]) } == Array("ping".utf8))
    #expect(replyPacket.isTransportChecksumValid(in: reply) == true)
    #expect(FlowMatch(replyPacket, ingressPort: 1).icmpEchoID == 0x1234)
    #expect(throws: PacketError.self) { try PacketBuilder.icmpEchoReply(to: reply) }
  }

  @Test func destinationUnreachableQuotesHeaderAndEightBytes() throws {
    let original = try PacketBuilder.udp(
      ethernet: Fixture.link, ipv4: Fixture.ip, sourcePort: 3333, destinationPort: 4444,
      payload: Array("a long payload that is not quoted".utf8), options: [0x94, 0x04, 0, 0])
    #expect(try PacketParser.parse(original).mayElicitICMPError)
    let error = try PacketBuilder.icmpError(
      type: .destinationUnreachable, code: ICMPCode.Unreachable.fragmentationNeeded,
      restOfHeader: 1400, quoting: original, ethernetSource: Fixture.macRouter,
      networkSource: Fixture.ipRouter)
    let packet = try PacketParser.parse(error)
    #expect(packet.ethernet.destination == Fixture.macA)
    #expect(packet.ethernet.source == Fixture.macRouter)
    #expect(packet.ipv4?.source == Fixture.ipRouter && packet.ipv4?.destination == Fixture.ipA)
    let icmp = try #require(packet.icmp)
    #expect(icmp.type == .destinationUnreachable && icmp.type.isError)
    #expect(icmp.code == 4 && icmp.nextHopMTU == 1400)
    // Quoted: 24-byte header with options + 8 bytes of UDP header.
    #expect(packet.payloadRange.map { Array(error[$0]) } == Array(original[14..<14 + 24 + 8]))
    #expect(packet.isTransportChecksumValid(in: error) == true)
    #expect(!packet.mayElicitICMPError)

    let quote = try #require(packet.icmpQuote(in: error))
    #expect(quote.ipv4.source == Fixture.ipA && quote.ipv4.destination == Fixture.ipB)
    #expect(quote.ipv4.ipProtocol == .udp)
    #expect(quote.transportSource == 3333 && quote.transportDestination == 4444)
    #expect(quote.icmpEchoID == nil)
    let match = FlowMatch(packet, ingressPort: 1)
    #expect(
      match.transportSource == 3 && match.transportDestination == 4 && match.icmpEchoID == nil)
  }

  @Test func timeExceededForShortDatagramQuotesWhatThereIs() throws {
    let original = try PacketBuilder.icmp(
      ethernet: Fixture.link, ipv4: Fixture.ip, icmp: .echo(identifier: 99, sequenceNumber: 1))
    let error = try PacketBuilder.icmpError(
      type: .timeExceeded, code: ICMPCode.TimeExceeded.ttl, quoting: original,
      ethernetSource: Fixture.macRouter, networkSource: Fixture.ipRouter)
    let packet = try PacketParser.parse(error)
    #expect(packet.icmp?.type == .timeExceeded)
    #expect(packet.ipv4.map { Int($0.totalLength) } == 56)  // 20 + 8 + quoted 20 + 8.
    let quote = try #require(packet.icmpQuote(in: error))
    #expect(quote.transportSource == 8 && quote.icmpEchoID == 99)
    #expect(packet.isTransportChecksumValid(in: error) == true)
    #expect(throws: PacketError.self) {
      try PacketBuilder.icmpError(
        type: .timeExceeded, code: 0, quoting: Fixture.arpFrame(),
        ethernetSource: Fixture.macRouter, networkSource: Fixture.ipRouter)
    }
  }

  @Test func whoMayElicitAnError() throws {
    #expect(try PacketParser.parse(Fixture.tcpFrame()).mayElicitICMPError)
    #expect(try PacketParser.parse(Fixture.icmpEchoFrame()).mayElicitICMPError)
    #expect(!(try PacketParser.parse(Fixture.arpFrame()).mayElicitICMPError))
    let broadcast = try PacketBuilder.udp(
      ethernet: Fixture.link, ipv4: IPv4Header(source: Fixture.ipA, destination: .broadcast),
      sourcePort: 68, destinationPort: 67)
    #expect(!(try PacketParser.parse(broadcast).mayElicitICMPError))
    let multicastMAC = try PacketBuilder.udp(
      ethernet: EthernetHeader(destination: .broadcast, source: Fixture.macA), ipv4: Fixture.ip,
      sourcePort: 1, destinationPort: 2)
    #expect(!(try PacketParser.parse(multicastMAC).mayElicitICMPError))
    let fromNobody = try PacketBuilder.udp(
      ethernet: Fixture.link, ipv4: IPv4Header(source: .any, destination: Fixture.ipB),
      sourcePort: 1, destinationPort: 2)
    #expect(!(try PacketParser.parse(fromNobody).mayElicitICMPError))
    let later = try PacketBuilder.ipv4(
      ethernet: Fixture.link,
      ipv4: IPv4Header(source: Fixture.ipA, destination: Fixture.ipB, fragmentOffset: 1),
      payload: [1, 2, 3, 4, 5, 6, 7, 8])
    #expect(!(try PacketParser.parse(later).mayElicitICMPError))
  }

  @Test func truncatedICMPIsPartial() throws {
    let frame = try Fixture.icmpEchoFrame()
    let packet = try PacketParser.parse(Array(frame[0..<40]))
    #expect(packet.issue == .truncatedICMP && packet.icmp == nil)
    #expect(!packet.mayElicitICMPError)
    #expect(FlowMatch(packet, ingressPort: 1).networkProtocol == .icmp)
  }
}
