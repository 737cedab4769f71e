import Packets
import Testing

@Suite struct EthernetTests {
  @Test func untaggedRoundTrip() throws {
    let frame = PacketBuilder.ethernet(
      EthernetHeader(
        destination: Fixture.macB, source: Fixture.macA, etherType: EtherType(rawValue: 0x88CC)),
      payload: [1, 2, 3])
    let packet = try PacketParser.parse(frame)
    #expect(packet.ethernet.destination == Fixture.macB)
    #expect(packet.ethernet.source == Fixture.macA)
    #expect(packet.ethernet.etherType.rawValue == 0x88CC)
    #expect(packet.ethernet.etherType.description == "0x88cc")
    #expect(packet.ethernet.vlan == nil)
    #expect(packet.networkOffset == 14)
    #expect(packet.ipv4 == nil && packet.arp == nil && packet.issue == nil)
  }

  @Test func vlanTaggedRoundTrip() throws {
    let tag = VLANTag(id: 100, priority: 5, dropEligible: true)
    let frame = try PacketBuilder.udp(
      ethernet: EthernetHeader(destination: Fixture.macB, source: Fixture.macA, vlan: tag),
      ipv4: Fixture.ip, sourcePort: 1, destinationPort: 2)
    #expect(Array(frame[12..<16]) == [0x81, 0x00, 0xB0, 0x64])
    let packet = try PacketParser.parse(frame)
    #expect(packet.ethernet.vlan == tag)
    #expect(packet.ethernet.vlan?.id == 100)
    #expect(packet.ethernet.vlan?.priority == 5)
    #expect(packet.ethernet.vlan?.dropEligible == true)
    #expect(packet.ethernet.etherType == .ipv4)
    #expect(packet.networkOffset == 18)
    #expect(packet.udp?.destinationPort == 2)
    let match = FlowMatch(packet, ingressPort: 3)
    #expect(match.vlanID == 100)
    #expect(match.transportDestination == 2)
  }

  /// QinQ: the outer (service) tag is the one kept; inner tags are skipped.
  @Test(arguments: [EtherType.qinq, .vlan, .legacyQinQ])
  func stackedTagsKeepOuter(_ outerTPID: EtherType) throws {
    var frame = Fixture.arpFrame()
    let outer = outerTPID.rawValue
    frame.replaceSubrange(
      12..<12, with: [UInt8(outer >> 8), UInt8(outer & 0xFF), 0x00, 0xC8, 0x81, 0x00, 0x00, 0x0A])
    let packet = try PacketParser.parse(frame)
    #expect(packet.ethernet.vlan?.id == 200)
    #expect(packet.ethernet.tagCount == 2)
    #expect(packet.ethernet.etherType == .arp)
    #expect(packet.networkOffset == 22)
    #expect(packet.arp?.targetProtocolAddress == Fixture.ipB)
    #expect(FlowMatch(packet, ingressPort: 1).vlanID == 200)
  }

  @Test func tooShortFramesThrow() {
    for length in 0..<14 {
      #expect(throws: PacketError.self) {
        try PacketParser.parse([UInt8](repeating: 0xFF, count: length))
      }
    }
    var tagged = Fixture.arpFrame()
    tagged.replaceSubrange(12..<12, with: [0x81, 0x00, 0x00, 0x05])
    for length in 14..<18 {
      do {
        _ = try PacketParser.parse(Array(tagged[0..<length]))
        Issue.record("truncated tag at \(length) parsed")
      } catch {
        #expect(error.code == .truncatedVLAN)
      }
    }
  }

  @Test func vlanTagFieldsAreTruncatedToWidth() {
    let tag = VLANTag(id: 0xFFFF, priority: 0xFF)
    #expect(tag.id == 0x0FFF)
    #expect(tag.priority == 7)
    #expect(!tag.dropEligible)
  }
}

@Suite struct ARPTests {
  @Test func requestRoundTrip() throws {
    let frame = Fixture.arpFrame()
    #expect(frame.count == 42)
    let packet = try PacketParser.parse(frame)
    #expect(packet.ethernet.destination == .broadcast)
    #expect(packet.ethernet.etherType == .arp)
    let arp = try #require(packet.arp)
    #expect(arp.operation == .request)
    #expect(arp.senderHardwareAddress == Fixture.macA)
    #expect(arp.senderProtocolAddress == Fixture.ipA)
    #expect(arp.targetHardwareAddress == .zero)
    #expect(arp.targetProtocolAddress == Fixture.ipB)
    #expect(!arp.isGratuitous)
  }

  @Test func replyAnsweringRequest() throws {
    let reply = try PacketBuilder.arpReply(answering: Fixture.arpFrame(), with: Fixture.macB)
    let packet = try PacketParser.parse(reply)
    #expect(packet.ethernet.destination == Fixture.macA)
    #expect(packet.ethernet.source == Fixture.macB)
    let arp = try #require(packet.arp)
    #expect(arp.operation == .reply)
    #expect(arp.senderHardwareAddress == Fixture.macB)
    #expect(arp.senderProtocolAddress == Fixture.ipB)
    #expect(arp.targetHardwareAddress == Fixture.macA)
    #expect(arp.targetProtocolAddress == Fixture.ipA)
    #expect(throws: PacketError.self) {
      try PacketBuilder.arpReply(answering: reply, with: Fixture.macB)
    }
  }

  @Test func gratuitous() throws {
    let frame = PacketBuilder.gratuitousARP(
      mac: Fixture.macRouter, ip: Fixture.ipRouter, vlan: VLANTag(id: 7))
    let packet = try PacketParser.parse(frame)
    #expect(packet.ethernet.destination == .broadcast)
    #expect(packet.ethernet.vlan?.id == 7)
    let arp = try #require(packet.arp)
    #expect(arp.isGratuitous)
    #expect(arp.senderProtocolAddress == Fixture.ipRouter)
    let match = FlowMatch(packet, ingressPort: 9)
    #expect(match.arpOperation == .request)
    #expect(match.arpSenderHardwareAddress == Fixture.macRouter)
    #expect(match.arpTargetProtocolAddress == Fixture.ipRouter)
    #expect(match.vlanID == 7)
    #expect(!match.hasNetworkLayer)
  }

  @Test func paddedToMinimumFrameSize() throws {
    let frame = Fixture.arpFrame() + [UInt8](repeating: 0, count: 18)
    let packet = try PacketParser.parse(frame)
    #expect(packet.arp?.targetProtocolAddress == Fixture.ipB)
    #expect(packet.issue == nil)
  }

  @Test func nonEthernetIPv4ARPIsPartial() throws {
    var frame = Fixture.arpFrame()
    frame[15] = 6  // Hardware type IEEE 802.
    let packet = try PacketParser.parse(frame)
    #expect(packet.arp == nil)
    #expect(packet.issue == .unsupportedARP)
    let match = FlowMatch(packet, ingressPort: 1)
    #expect(match.etherType == .arp && !match.hasARP)
  }
}
