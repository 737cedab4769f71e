import Addresses
import Datapath
import Packets
import Testing

/// Records what the executor sends.
struct RecordingOutput: PacketOutput {
  var sent: [(port: UInt32, frame: [UInt8], offload: VirtioNetHeader)] = []
  var tunnelled: [(key: UInt32, remote: TunnelEndpoint, frame: [UInt8])] = []

  mutating func output(port: UInt32, frame: UnsafeRawBufferPointer, offload: VirtioNetHeader) {
    sent.append((port, Array(frame), offload))
  }

  mutating func encapsulate(
    tunnelKey: UInt32, remote: TunnelEndpoint, frame: UnsafeRawBufferPointer,
    offload: VirtioNetHeader
  ) {
    tunnelled.append((tunnelKey, remote, Array(frame)))
  }
}

/// What running actions on a frame did.
struct Execution {
  var outcome: ActionExecutor.Outcome
  var output: RecordingOutput
  /// The frame after the actions (where a push or pop left it).
  var frame: [UInt8]
  /// The executor's description of it.
  var packet: ParsedPacket
}

/// Runs `actions` on a copy of `frame` placed `headroom` bytes into a buffer, as the
/// packet loop places received frames.
func execute(
  _ actions: [DatapathAction], on frame: [UInt8], offload: VirtioNetHeader = VirtioNetHeader(),
  headroom: Int = ActionExecutor.headroom
) throws -> Execution {
  var storage = [UInt8](repeating: 0xEE, count: headroom + frame.count)
  var packet = try PacketParser.parse(frame)
  var output = RecordingOutput()
  let (outcome, result) = try storage.withUnsafeMutableBytes { bytes in
    var buffer = try #require(FrameBuffer(storage: bytes, start: headroom, count: frame.count))
    buffer.bytes.copyBytes(from: frame)
    let outcome = ActionExecutor.execute(
      actions, packet: &packet, frame: &buffer, offload: offload, output: &output)
    return (outcome, Array(buffer.bytes))
  }
  return Execution(outcome: outcome, output: output, frame: result, packet: packet)
}

/// Runs `actions` on a copy of `frame`, returning the outcome and what was sent.
private func run(
  _ actions: [DatapathAction], on frame: [UInt8], offload: VirtioNetHeader = VirtioNetHeader()
) throws -> (ActionExecutor.Outcome, RecordingOutput, [UInt8]) {
  let execution = try execute(actions, on: frame, offload: offload)
  return (execution.outcome, execution.output, execution.frame)
}

/// Parses `frame` and checks both checksums verify.
func expectValidChecksums(_ frame: [UInt8]) throws {
  let packet = try PacketParser.parse(frame)
  #expect(packet.isIPv4ChecksumValid(in: frame) == true)
  #expect(packet.isTransportChecksumValid(in: frame) == true)
}

@Suite("Executing flow actions on built packets")
struct ActionExecutionTests {
  @Test("MAC rewrites then output; outputs see the frame as it was at that point")
  func macRewriteAndOrder() throws {
    let frame = try Fixture.udpFrame()
    let (outcome, output, _) = try run(
      [.output(port: 1), .setEthernetDestination(Fixture.macRouter), .output(port: 2)], on: frame)
    #expect(outcome == .completed(outputs: 2))
    #expect(output.sent.map(\.port) == [1, 2])
    #expect(output.sent[0].frame == frame)
    let second = try PacketParser.parse(output.sent[1].frame)
    #expect(second.ethernet.destination == Fixture.macRouter)
    #expect(second.ethernet.source == Fixture.macA)
  }

  @Test(
    "address and port rewrites keep IPv4 and transport checksums valid",
    arguments: ["udp", "tcp"])
  func natRewrites(kind: String) throws {
    let frame = kind == "udp" ? try Fixture.udpFrame() : try Fixture.tcpFrame()
    let newSource = IPv4Address(10, 9, 8, 7)
    let newDestination = IPv4Address(10, 200, 1, 2)
    let (outcome, output, _) = try run(
      [
        .setIPv4Source(newSource), .setIPv4Destination(newDestination),
        .setTransportSource(5555), .setTransportDestination(8080), .decrementTTL,
        .output(port: 3),
      ], on: frame)
    #expect(outcome == .completed(outputs: 1))
    let sent = try #require(output.sent.first).frame
    try expectValidChecksums(sent)
    let packet = try PacketParser.parse(sent)
    #expect(packet.ipv4?.source == newSource)
    #expect(packet.ipv4?.destination == newDestination)
    #expect(packet.ipv4?.ttl == 63)
    let match = FlowMatch(packet, ingressPort: 0)
    #expect(match.transportSource == 5555)
    #expect(match.transportDestination == 8080)
  }

  @Test("ICMP echo identifier rewrite and TTL keep checksums valid")
  func icmpRewrite() throws {
    let (outcome, output, _) = try run(
      [
        .setTransportSource(0x4321), .setIPv4Source(IPv4Address(10, 1, 1, 1)), .decrementTTL,
        .output(port: 1),
      ], on: try Fixture.pingFrame())
    #expect(outcome == .completed(outputs: 1))
    let sent = try #require(output.sent.first).frame
    try expectValidChecksums(sent)
    #expect(try PacketParser.parse(sent).icmp?.identifier == 0x4321)
  }

  @Test("a TTL of 1 cannot be decremented: the packet ends, nothing after it is sent")
  func ttlExpiry() throws {
    let (outcome, output, bytes) = try run(
      [.output(port: 1), .decrementTTL, .output(port: 2)], on: try Fixture.udpFrame(ttl: 1))
    #expect(outcome == .ttlExpired)
    #expect(output.sent.map(\.port) == [1])
    #expect(try PacketParser.parse(bytes).ipv4?.ttl == 1)
  }

  @Test("drop stops the packet; a rewrite with no layer to rewrite fails it")
  func dropAndFailure() throws {
    let (dropped, output, _) = try run(
      [.drop(reason: "rule 7"), .output(port: 1)], on: try Fixture.udpFrame())
    #expect(dropped == .dropped(reason: "rule 7"))
    #expect(output.sent.isEmpty)
    let arp = PacketBuilder.ethernet(
      EthernetHeader(destination: .broadcast, source: Fixture.macA, etherType: .arp),
      payload: Array(repeating: 0, count: 28))
    let (failed, _, _) = try run([.setTransportSource(1), .output(port: 1)], on: arp)
    #expect(failed == .rewriteFailed(.missingLayer))
  }

  @Test("encapsulate hands the current frame, key and endpoint to the output")
  func encapsulate() throws {
    let remote = TunnelEndpoint(address: IPv4Address(127, 0, 0, 1), port: 47_000)
    let frame = try Fixture.udpFrame()
    let (outcome, output, _) = try run(
      [.encapsulate(tunnelKey: 42, remote: remote)], on: frame)
    #expect(outcome == .completed(outputs: 1))
    #expect(output.tunnelled.first?.key == 42)
    #expect(output.tunnelled.first?.remote == remote)
    #expect(output.tunnelled.first?.frame == frame)
  }

  @Test("a partial checksum is completed in software", arguments: ["udp", "tcp"])
  func completePartial(kind: String) throws {
    var (frame, offload) = try Self.partialFrame(kind)
    let complete = frame.withUnsafeMutableBytes { offload.completeChecksum(in: $0) }
    #expect(complete)
    #expect(!offload.isChecksumPartial)
    try expectValidChecksums(frame)
  }

  @Test(
    "rewrites on a partial (GSO) frame keep the pseudo-header sum right",
    arguments: [
      "udp", "tcp",
    ])
  func rewritePartial(kind: String) throws {
    let (frame, offload) = try Self.partialFrame(kind)
    var gso = offload
    gso.gsoType = kind == "udp" ? VirtioNetHeader.gsoUDPL4 : VirtioNetHeader.gsoTCPv4
    let (outcome, output, _) = try run(
      [
        .setIPv4Source(IPv4Address(10, 3, 3, 3)), .setTransportSource(999),
        .setIPv4Destination(IPv4Address(10, 4, 4, 4)), .setTransportDestination(1000),
        .output(port: 1),
      ], on: frame, offload: gso)
    #expect(outcome == .completed(outputs: 1))
    var sent = try #require(output.sent.first).frame
    var finish = gso
    #expect(sent.withUnsafeMutableBytes { finish.completeChecksum(in: $0) })
    try expectValidChecksums(sent)
  }

  /// A frame as a veth with TX checksum offload hands it over: the transport checksum
  /// field holds the (uncomplemented) pseudo-header sum.
  static func partialFrame(_ kind: String) throws -> ([UInt8], VirtioNetHeader) {
    var frame = kind == "udp" ? try Fixture.udpFrame() : try Fixture.tcpFrame()
    let packet = try PacketParser.parse(frame)
    let ip = try #require(packet.ipv4)
    let start = try #require(packet.transportOffset)
    let fieldOffset = kind == "udp" ? 6 : 16
    let length = frame.count - start
    let pseudo = Checksum.pseudoHeaderSum(
      source: ip.source, destination: ip.destination, ipProtocol: ip.ipProtocol, length: length)
    let folded = ~Checksum.finish(pseudo)
    frame[start + fieldOffset] = UInt8(folded >> 8)
    frame[start + fieldOffset + 1] = UInt8(folded & 0xFF)
    var offload = VirtioNetHeader()
    offload.flags = VirtioNetHeader.needsChecksum
    offload.checksumStart = UInt16(start)
    offload.checksumOffset = UInt16(fieldOffset)
    return (frame, offload)
  }
}
