import Addresses
import MidgeTestSupport
import Packets
import Testing

/// A straightforward RFC 1071 reference: 16-bit big-endian words, odd byte padded, end-
/// around carry, complement. The optimised `Checksum` must agree with it.
private func referenceChecksum(_ bytes: [UInt8]) -> UInt16 {
  var sum: UInt64 = 0
  var index = 0
  while index < bytes.count {
    let high = UInt64(bytes[index]) << 8
    let low = index + 1 < bytes.count ? UInt64(bytes[index + 1]) : 0
    sum += high | low
    index += 2
  }
  while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
  return ~UInt16(sum)
}

/// The two ones' complement zeros are the same checksum value.
private func equivalent(_ lhs: UInt16, _ rhs: UInt16) -> Bool {
  lhs == rhs || (lhs == 0 && rhs == 0xFFFF) || (lhs == 0xFFFF && rhs == 0)
}

@Suite struct ChecksumTests {
  /// RFC 1071 §3 numeric example: the words 0001 f203 f4f5 f6f7 sum to 0xddf2, so the
  /// checksum is its complement, 0x220d.
  @Test func rfc1071Example() {
    let bytes: [UInt8] = [0x00, 0x01, 0xF2, 0x03, 0xF4, 0xF5, 0xF6, 0xF7]
    #expect(Checksum.partialSum(bytes) == 0xDDF2)
    #expect(Checksum.compute(bytes) == 0x220D)
  }

  /// The classic IPv4 header 4500 0073 0000 4000 4011 [b861] c0a8 0001 c0a8 00c7: the
  /// other nine words sum to 0x479e after folding, whose complement is 0xb861.
  @Test func knownIPv4HeaderChecksum() throws {
    var header: [UInt8] = [
      0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00,
      0xC0, 0xA8, 0x00, 0x01, 0xC0, 0xA8, 0x00, 0xC7,
    ]
    #expect(Checksum.compute(header) == 0xB861)
    header[10] = 0xB8
    header[11] = 0x61
    #expect(Checksum.compute(header) == 0)

    // The builder produces the same header and checksum.
    let frame = try PacketBuilder.ipv4(
      ethernet: Fixture.link,
      ipv4: IPv4Header(
        source: IPv4Address(192, 168, 0, 1), destination: IPv4Address(192, 168, 0, 199),
        ipProtocol: .udp, ttl: 64, dontFragment: true),
      payload: [UInt8](repeating: 0, count: 0x73 - 20))
    #expect(Array(frame[14..<34]) == header)
  }

  /// UDP 192.168.0.31:20 → 192.168.0.30:10, data "Hi". By hand: pseudo-header
  /// c0a8+001f+c0a8+001e+0011+000a, header 0014+000a+000a+0000, data 4869; the sum is
  /// 0x1ca39, folded 0xca3a, complemented 0x35c5.
  @Test func knownUDPChecksum() throws {
    let frame = try PacketBuilder.udp(
      ethernet: Fixture.link,
      ipv4: IPv4Header(
        source: IPv4Address(192, 168, 0, 31), destination: IPv4Address(192, 168, 0, 30)),
      sourcePort: 20, destinationPort: 10, payload: [0x48, 0x69])
    let packet = try PacketParser.parse(frame)
    #expect(packet.udp?.checksum == 0x35C5)
    #expect(packet.isTransportChecksumValid(in: frame) == true)
    #expect(packet.isIPv4ChecksumValid(in: frame) == true)
  }

  /// TCP SYN 10.0.0.1:40000 → 10.0.0.2:80, seq 1, window 1024, no options. By hand:
  /// pseudo 0a00+0001+0a00+0002+0006+0014, header 9c40+0050+0000+0001+0000+0000+5002+
  /// 0400+0000+0000; folded sum 0x04b1, checksum 0xfb4e.
  @Test func knownTCPChecksum() throws {
    let frame = try PacketBuilder.tcp(
      ethernet: Fixture.link, ipv4: Fixture.ip,
      tcp: TCPHeader(
        sourcePort: 40_000, destinationPort: 80, sequenceNumber: 1, flags: .syn, window: 1024))
    let packet = try PacketParser.parse(frame)
    #expect(packet.tcp?.checksum == 0xFB4E)
    #expect(packet.isTransportChecksumValid(in: frame) == true)
  }

  /// ICMP echo request id 1 seq 1 data "abcd": 0800+0000+0001+0001+6162+6364 = 0xccc8,
  /// checksum 0x3337. No pseudo-header.
  @Test func knownICMPChecksum() throws {
    let frame = try PacketBuilder.icmp(
      ethernet: Fixture.link, ipv4: Fixture.ip, icmp: .echo(identifier: 1, sequenceNumber: 1),
      payload: Array("abcd".utf8))
    let packet = try PacketParser.parse(frame)
    #expect(packet.icmp?.checksum == 0x3337)
    #expect(packet.isTransportChecksumValid(in: frame) == true)
  }

  /// RFC 1624 §4: m = 0x5555 changes to 0x3285 in a header whose other words sum to
  /// 0xCD7A; HC = 0xDD2F and eqn. 3 gives 0x0000, as full recomputation does (RFC 1141's
  /// eqn. 2 would wrongly give 0xFFFF).
  @Test func rfc1624Example() {
    #expect(Checksum.update(0xDD2F, old: 0x5555, new: 0x3285) == 0x0000)
  }

  @Test func matchesReferenceOnRandomInput() {
    var random = SplitMix64(seed: 1071)
    for length in 0..<200 {
      let bytes = random.bytes(length)
      #expect(Checksum.compute(bytes) == referenceChecksum(bytes), "length \(length)")
    }
    // Unaligned starts: the word loads must not depend on alignment.
    let bytes = random.bytes(1501)
    bytes.withUnsafeBytes { raw in
      for start in 0..<8 {
        let slice = UnsafeRawBufferPointer(rebasing: raw[start...])
        #expect(Checksum.compute(slice) == referenceChecksum(Array(bytes[start...])))
      }
    }
    // Pieces: an even-length prefix summed first, then the rest, as with pseudo-headers.
    let prefix = Array(bytes[0..<12])
    let rest = Array(bytes[12...])
    #expect(
      Checksum.finish(Checksum.partialSum(rest, initial: Checksum.partialSum(prefix)))
        == referenceChecksum(bytes))
  }

  @Test func pseudoHeaderSum() {
    let sum = Checksum.pseudoHeaderSum(
      source: IPv4Address(192, 168, 0, 31), destination: IPv4Address(192, 168, 0, 30),
      ipProtocol: .udp, length: 10)
    // c0a8+001f+c0a8+001e+0011+000a = 0x181a8 → 0x81a9.
    #expect(sum == 0x81A9)
  }

  /// Incremental update equals full recomputation, for 16- and 32-bit fields, over
  /// random blocks and random changes.
  @Test func incrementalUpdateEqualsRecomputation() {
    var random = SplitMix64(seed: 1624)
    for _ in 0..<2000 {
      let words = Int.random(in: 2...40, using: &random)
      var block = random.bytes(words * 2)
      // Occasionally all zeros, the edge between the two zeros.
      if Int.random(in: 0..<50, using: &random) == 0 {
        block = [UInt8](repeating: 0, count: words * 2)
      }
      let checksum = Checksum.compute(block)

      let index = Int.random(in: 0..<words, using: &random) * 2
      let old16 = UInt16(block[index]) << 8 | UInt16(block[index + 1])
      let new16 = UInt16.random(in: 0...UInt16.max, using: &random)
      block[index] = UInt8(new16 >> 8)
      block[index + 1] = UInt8(new16 & 0xFF)
      let updated16 = Checksum.update(checksum, old: old16, new: new16)
      #expect(equivalent(updated16, Checksum.compute(block)))

      let index32 = Int.random(in: 0..<(words - 1), using: &random) * 2
      var old32: UInt32 = 0
      for offset in 0..<4 { old32 = old32 << 8 | UInt32(block[index32 + offset]) }
      let new32 = UInt32.random(in: 0...UInt32.max, using: &random)
      for offset in 0..<4 { block[index32 + offset] = UInt8((new32 >> (24 - 8 * offset)) & 0xFF) }
      let updated32 = Checksum.update(updated16, old32: old32, new32: new32)
      #expect(equivalent(updated32, Checksum.compute(block)))
      // For non-zero data both methods pick the same representation of zero.
      if block.contains(where: { $0 != 0 }) {
        #expect(updated32 == Checksum.compute(block))
      }
    }
  }
}
