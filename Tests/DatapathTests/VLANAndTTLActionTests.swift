import Addresses
import Datapath
import Packets
import Testing

/// The actions the simulator emits for VLAN trunks and flood branches: push and pop an
/// 802.1Q tag, set the TTL. Each runs on real frame bytes and the result is compared byte
/// for byte with the frame built directly the way it should come out.
@Suite("VLAN push/pop and TTL set on frame bytes")
struct VLANAndTTLActionTests {
  static let link = EthernetHeader(destination: Fixture.macB, source: Fixture.macA)

  /// A UDP frame from A to B with `vlan` tags (outermost first) and `ttl`.
  static func udpFrame(vlans: [VLANTag] = [], ttl: UInt8 = 64) throws -> [UInt8] {
    let untagged = try PacketBuilder.udp(
      ethernet: link, ipv4: IPv4Header(source: Fixture.ipA, destination: Fixture.ipB, ttl: ttl),
      sourcePort: 1234, destinationPort: 4000, payload: Array(repeating: 0x5A, count: 22))
    var tags: [UInt8] = []
    for vlan in vlans {
      tags += [0x81, 0x00, UInt8(vlan.tci >> 8), UInt8(vlan.tci & 0xFF)]
    }
    return Array(untagged[0..<12]) + tags + Array(untagged[12...])
  }

  /// Checks `execution` kept its packet description in step with its bytes.
  func expectInStep(_ execution: Execution) throws {
    #expect(execution.packet == (try PacketParser.parse(execution.frame)))
  }

  @Test(
    "push inserts 0x8100 and the TCI after the addresses",
    arguments: [VLANTag(id: 10), VLANTag(id: 0xABC, priority: 5), VLANTag(id: 4095)])
  func push(tag: VLANTag) throws {
    let execution = try execute([.pushVLAN(tag), .output(port: 1)], on: try Self.udpFrame())
    #expect(execution.outcome == .completed(outputs: 1))
    let sent = try #require(execution.output.sent.first).frame
    #expect(sent == (try Self.udpFrame(vlans: [tag])))
    #expect(Array(sent[12..<16]) == [0x81, 0x00, UInt8(tag.tci >> 8), UInt8(tag.tci & 0xFF)])
    #expect(try PacketParser.parse(sent).ethernet.vlan == tag)
    try expectValidChecksums(sent)
    try expectInStep(execution)
  }

  @Test("pop removes the tag and leaves the untagged frame")
  func pop() throws {
    let execution = try execute(
      [.popVLAN, .output(port: 1)], on: try Self.udpFrame(vlans: [VLANTag(id: 20)]))
    #expect(execution.outcome == .completed(outputs: 1))
    #expect(execution.output.sent.first?.frame == (try Self.udpFrame()))
    #expect(execution.packet.ethernet.vlan == nil)
    try expectInStep(execution)
  }

  @Test("a push onto a tagged frame stacks; a pop then uncovers the inner tag")
  func stacked() throws {
    let inner = VLANTag(id: 7)
    let outer = VLANTag(id: 300, priority: 2)
    let tagged = try Self.udpFrame(vlans: [inner])
    let execution = try execute(
      [.pushVLAN(outer), .output(port: 1), .popVLAN, .output(port: 2)], on: tagged)
    #expect(execution.outcome == .completed(outputs: 2))
    let sent = execution.output.sent.map(\.frame)
    #expect(sent.first == (try Self.udpFrame(vlans: [outer, inner])))
    #expect(sent.last == tagged)
    #expect(execution.packet.ethernet.vlan == inner)
    #expect(execution.packet.ethernet.tagCount == 1)
    try expectInStep(execution)
  }

  @Test("retagging a trunk frame: pop then push gives the new id")
  func retag() throws {
    let execution = try execute(
      [.popVLAN, .pushVLAN(VLANTag(id: 30))], on: try Self.udpFrame(vlans: [VLANTag(id: 20)]))
    #expect(execution.outcome == .completed(outputs: 0))
    #expect(execution.frame == (try Self.udpFrame(vlans: [VLANTag(id: 30)])))
    try expectInStep(execution)
  }

  @Test("popping an untagged frame fails it; what was sent before stands")
  func popUntagged() throws {
    let execution = try execute(
      [.output(port: 1), .popVLAN, .output(port: 2)], on: try Self.udpFrame())
    #expect(execution.outcome == .rewriteFailed(.missingLayer))
    #expect(execution.output.sent.map(\.port) == [1])
  }

  @Test("a push needs headroom: without it the packet fails, unchanged")
  func pushWithoutHeadroom() throws {
    let frame = try Self.udpFrame()
    let execution = try execute(
      [.pushVLAN(VLANTag(id: 5)), .output(port: 1)], on: frame, headroom: 2)
    #expect(execution.outcome == .rewriteFailed(.invalidArgument))
    #expect(execution.frame == frame)
    #expect(execution.output.sent.isEmpty)
  }

  @Test("pushes and pops never need more headroom than their net depth")
  func manyPushesAndPops() throws {
    let frame = try Self.udpFrame()
    var actions: [DatapathAction] = []
    for round in 0..<100 {
      actions += [.pushVLAN(VLANTag(id: UInt16(round))), .popVLAN]
    }
    let execution = try execute(actions + [.output(port: 1)], on: frame, headroom: 4)
    #expect(execution.outcome == .completed(outputs: 1))
    #expect(execution.output.sent.first?.frame == frame)
  }

  @Test("set TTL writes the TTL and fixes the IPv4 checksum", arguments: [0, 1, 5, 63, 200, 255])
  func setTTL(ttl: UInt8) throws {
    let execution = try execute([.setTTL(ttl), .output(port: 1)], on: try Self.udpFrame())
    #expect(execution.outcome == .completed(outputs: 1))
    let sent = try #require(execution.output.sent.first).frame
    #expect(sent == (try Self.udpFrame(ttl: ttl)))
    try expectValidChecksums(sent)
    try expectInStep(execution)
  }

  @Test("set TTL on a tagged frame finds the IPv4 header behind the tag")
  func setTTLTagged() throws {
    let tag = VLANTag(id: 44)
    let execution = try execute(
      [.pushVLAN(tag), .setTTL(9)], on: try Self.udpFrame(vlans: [VLANTag(id: 3)]))
    #expect(execution.frame == (try Self.udpFrame(vlans: [tag, VLANTag(id: 3)], ttl: 9)))
    try expectValidChecksums(execution.frame)
  }

  @Test("a flood branch: rewrites, a push and a TTL change, then the other branch's framing")
  func combined() throws {
    let router = Fixture.macRouter
    let source = IPv4Address(192, 168, 7, 1)
    let tag = VLANTag(id: 100)
    let execution = try execute(
      [
        .setEthernetSource(router), .setIPv4Source(source), .setTransportDestination(53),
        .decrementTTL, .pushVLAN(tag), .output(port: 1), .popVLAN, .setTTL(64),
        .output(port: 2),
      ], on: try Self.udpFrame())
    #expect(execution.outcome == .completed(outputs: 2))
    let sent = execution.output.sent.map(\.frame)
    let rewritten = { (vlan: VLANTag?, ttl: UInt8) throws -> [UInt8] in
      try PacketBuilder.udp(
        ethernet: EthernetHeader(destination: Fixture.macB, source: router, vlan: vlan),
        ipv4: IPv4Header(source: source, destination: Fixture.ipB, ttl: ttl),
        sourcePort: 1234, destinationPort: 53, payload: Array(repeating: 0x5A, count: 22))
    }
    #expect(sent.first == (try rewritten(tag, 63)))
    #expect(sent.last == (try rewritten(nil, 64)))
    for frame in sent { try expectValidChecksums(frame) }
    try expectInStep(execution)
  }

  @Test("a push moves a partial checksum's start and a GSO frame's header length")
  func offloadFollowsTheTag() throws {
    let (frame, partial) = try ActionExecutionTests.partialFrame("tcp")
    var offload = partial
    offload.gsoType = VirtioNetHeader.gsoTCPv4
    offload.gsoSize = 1448
    offload.headerLength = UInt16(14 + 20 + 20)
    let execution = try execute(
      [.pushVLAN(VLANTag(id: 9)), .output(port: 1), .popVLAN, .output(port: 2)], on: frame,
      offload: offload)
    #expect(execution.outcome == .completed(outputs: 2))
    let tagged = try #require(execution.output.sent.first)
    #expect(tagged.offload.checksumStart == offload.checksumStart + 4)
    #expect(tagged.offload.headerLength == offload.headerLength + 4)
    var finish = tagged.offload
    var bytes = tagged.frame
    #expect(bytes.withUnsafeMutableBytes { finish.completeChecksum(in: $0) })
    try expectValidChecksums(bytes)
    #expect(execution.output.sent.last?.offload == offload)
  }
}
