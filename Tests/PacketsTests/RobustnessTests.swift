import Addresses
import MidgeTestSupport
import Packets
import Testing

/// Hostile input: truncation at every offset, random bytes, random corruption of valid
/// frames, and inputs the fuzzer once found. None may crash; each must give an error or
/// a (possibly partial) result that satisfies the parse invariants.
@Suite struct RobustnessTests {
  static let names = ["tcp", "udp", "icmp", "arp", "vxlan", "vlan-tcp", "options-udp"]

  static func frame(_ name: String) throws -> [UInt8] {
    switch name {
    case "tcp": return try Fixture.tcpFrame()
    case "udp": return try Fixture.udpFrame()
    case "icmp": return try Fixture.icmpEchoFrame()
    case "arp": return Fixture.arpFrame()
    case "vxlan": return try Fixture.vxlanFrame()
    case "vlan-tcp":
      return try PacketBuilder.tcp(
        ethernet: EthernetHeader(
          destination: Fixture.macB, source: Fixture.macA, vlan: VLANTag(id: 9)),
        ipv4: Fixture.ip, tcp: TCPHeader(sourcePort: 1, destinationPort: 2),
        tcpOptions: [1, 1, 1, 1])
    default:
      return try PacketBuilder.udp(
        ethernet: Fixture.link, ipv4: Fixture.ip, sourcePort: 1, destinationPort: 2,
        payload: [1], options: [1, 1, 1, 0])
    }
  }

  @Test(arguments: names)
  func truncationAtEveryOffset(_ name: String) throws {
    let frame = try Self.frame(name)
    let full = try PacketParser.parse(frame)
    for length in 0...frame.count {
      let prefix = Array(frame[0..<length])
      checkParseInvariants(prefix)
      let packet: ParsedPacket
      do {
        packet = try PacketParser.parse(prefix)
      } catch {
        #expect(length < full.networkOffset, "\(name) cut at \(length) threw \(error)")
        #expect(error.code == .truncatedEthernet || error.code == .truncatedVLAN)
        continue
      }
      #expect(packet.ethernet == full.ethernet)
      if length == frame.count {
        #expect(packet == full)
        #expect(packet.issue == nil)
      } else if packet.transport == nil && full.transport != nil
        || packet.arp == nil && full.arp != nil
        || packet.ipv4 == nil && full.ipv4 != nil
      {
        // A layer went missing: the parse says why.
        #expect(packet.issue != nil, "\(name) cut at \(length)")
      }
      // Whatever was parsed agrees with the full frame.
      if let ip = packet.ipv4 { #expect(ip == full.ipv4) }
      if let arp = packet.arp { #expect(arp == full.arp) }
      if let transport = packet.transport { #expect(transport == full.transport) }
      _ = try? VXLANHeader.decapsulate(frame: prefix)
    }
  }

  @Test func randomBytesNeverCrash() {
    var random = SplitMix64(seed: 0xBAD_F00D)
    for _ in 0..<3000 {
      let frame = random.bytes(Int.random(in: 0..<200, using: &random))
      checkParseInvariants(frame)
      _ = try? VXLANHeader.decapsulate(frame: frame)
      frame.withUnsafeBytes { bytes in
        _ = try? VXLANHeader.decapsulate(payload: bytes)
      }
    }
  }

  /// Random bytes behind a plausible Ethernet/IPv4 prefix reach the deeper parsers.
  @Test func randomHeadersBehindValidPrefixNeverCrash() throws {
    var random = SplitMix64(seed: 0xC0FFEE)
    let prefixes = try Self.names.map { try Array(Self.frame($0)[0..<14]) }
    for _ in 0..<3000 {
      let prefix = prefixes[Int.random(in: 0..<prefixes.count, using: &random)]
      var frame = prefix + random.bytes(Int.random(in: 0..<120, using: &random))
      if frame.count > 14 && Bool.random(using: &random) {
        frame[14] = 0x45  // Mostly-valid IPv4 version/IHL.
      }
      checkParseInvariants(frame)
      try mutateAndRewrite(frame)
    }
  }

  /// Single-byte corruption of every byte of valid frames, then rewrites on the result.
  @Test(arguments: names)
  func corruptionOfEveryByte(_ name: String) throws {
    var random = SplitMix64(seed: UInt64(name.utf8.count))
    let frame = try Self.frame(name)
    for index in frame.indices {
      var corrupt = frame
      corrupt[index] ^= UInt8.random(in: 1...255, using: &random)
      checkParseInvariants(corrupt)
      try mutateAndRewrite(corrupt)
    }
  }

  /// Inputs found by the fuzzer (Fuzz/run.sh), kept as regressions:
  /// 1. the UDP seed itself: a port rewrite stored the ParsedPacket's header after the
  ///    checksum adjustment, so the parsed checksum went stale;
  /// 2. a UDP checksum of 0 with a UDP length beyond the datagram was reported as
  ///    "invalid" instead of "cannot be checked".
  @Test(arguments: [
    [
      0x02, 0x00, 0x00, 0x00, 0x00, 0x0B, 0x02, 0x00, 0x00, 0x00, 0x00, 0x0A, 0x08, 0x00, 0x45,
      0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x40, 0x11, 0x66, 0xCB, 0x0A, 0x00, 0x00, 0x01,
      0x0A, 0x00, 0x00, 0x02, 0x14, 0xE9, 0x00, 0x35, 0x00, 0x0C, 0xD2, 0xAF, 0x01, 0x02, 0x03,
      0x04,
    ] as [UInt8],
    [
      0x02, 0x00, 0x00, 0x00, 0x00, 0x0B, 0x02, 0x00, 0x00, 0x00, 0x00, 0x0A, 0x08, 0x00, 0x45,
      0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x40, 0x11, 0x66, 0xCB, 0x0A, 0x00, 0x00, 0x01,
      0x0A, 0x00, 0x00, 0x02, 0x00, 0x45, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x40, 0x11,
      0x66, 0xCB, 0x0A, 0x00, 0x00, 0x01, 0x0A, 0x00, 0x00, 0x02, 0x14, 0xE9, 0x4C, 0x4C, 0x4C,
    ],
  ])
  func fuzzRegressions(_ frame: [UInt8]) throws {
    checkParseInvariants(frame)
    try mutateAndRewrite(frame)
  }

  /// The fuzz harness's rewrite oracle: every rewrite keeps the ParsedPacket equal to a
  /// re-parse, and keeps verifying checksums verifying.
  private func mutateAndRewrite(_ original: [UInt8]) throws {
    guard var packet = try? PacketParser.parse(original) else { return }
    var frame = original
    let ipValid = packet.isIPv4ChecksumValid(in: frame)
    let transportValid = packet.isTransportChecksumValid(in: frame)
    try? packet.setNetworkSource(IPv4Address(10, 9, 8, 7), in: &frame)
    try? packet.setNetworkDestination(IPv4Address(203, 0, 113, 1), in: &frame)
    try? packet.setTransportSource(0xBEEF, in: &frame)
    try? packet.setTransportDestination(0, in: &frame)
    _ = try? packet.decrementTTL(in: &frame)
    #expect(packet == (try PacketParser.parse(frame)))
    if ipValid == true { #expect(packet.isIPv4ChecksumValid(in: frame) == true) }
    if transportValid == true { #expect(packet.isTransportChecksumValid(in: frame) == true) }
    packet.recomputeChecksums(in: &frame)
    if packet.ipv4 != nil { #expect(packet.isIPv4ChecksumValid(in: frame) == true) }
    #expect(packet.isTransportChecksumValid(in: frame) != false)
  }
}
