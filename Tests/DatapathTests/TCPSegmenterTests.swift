import Datapath
import Packets
import Testing

@Suite("Software TCP segmentation of GSO frames (for the tunnel)")
struct TCPSegmenterTests {
  /// A 10,000-byte TCP GSO super-packet with PSH|FIN|ACK, as a veth hands it over.
  func superPacket() throws -> ([UInt8], VirtioNetHeader) {
    let payload = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
    let frame = try PacketBuilder.tcp(
      ethernet: EthernetHeader(destination: Fixture.macB, source: Fixture.macA),
      ipv4: IPv4Header(source: Fixture.ipA, destination: Fixture.ipB, identification: 0xFFFE),
      tcp: TCPHeader(
        sourcePort: 40000, destinationPort: 80, sequenceNumber: 0xFFFF_F000,
        flags: [.ack, .psh, .fin]),
      payload: payload)
    var offload = VirtioNetHeader()
    offload.gsoType = VirtioNetHeader.gsoTCPv4
    offload.gsoSize = 1448
    offload.headerLength = 54
    return (frame, offload)
  }

  @Test("segments carry the payload in order with valid checksums, lengths, ids and flags")
  func segments() throws {
    let (frame, offload) = try superPacket()
    try frame.withUnsafeBytes { bytes in
      let segmenter = try #require(TCPSegmenter(frame: bytes, offload: offload))
      #expect(segmenter.segmentCount == 7)  // 6 × 1448 + 1312
      var payload: [UInt8] = []
      var output = [UInt8](repeating: 0, count: 2048)
      let original = try PacketParser.parse(bytes)
      for index in 0..<segmenter.segmentCount {
        let length = output.withUnsafeMutableBytes {
          segmenter.writeSegment(index, of: bytes, to: $0)
        }
        let segment = Array(output[..<length])
        try segment.withUnsafeBytes { seg in
          let parsed = try PacketParser.parse(seg)
          #expect(parsed.isIPv4ChecksumValid(in: seg) == true)
          #expect(parsed.isTransportChecksumValid(in: seg) == true)
          let tcp = try #require(parsed.tcp)
          let ip = try #require(parsed.ipv4)
          #expect(Int(ip.totalLength) == length - 14)
          #expect(ip.identification == original.ipv4!.identification &+ UInt16(index))
          #expect(tcp.sequenceNumber == 0xFFFF_F000 &+ UInt32(index * 1448))
          let last = index == segmenter.segmentCount - 1
          #expect(tcp.flags.contains(.fin) == last)
          #expect(tcp.flags.contains(.psh) == last)
          #expect(tcp.flags.contains(.ack))
          payload += segment[parsed.payloadOffset!...]
        }
      }
      #expect(payload == Array(frame[54...]))
    }
  }

  @Test("behind two VLAN tags (a push onto a trunk frame) the segments keep both tags")
  func stackedTags() throws {
    let (frame, offload) = try superPacket()
    let tags: [UInt8] = [0x81, 0x00, 0x00, 0x64, 0x81, 0x00, 0x00, 0x07]
    let tagged = Array(frame[..<12]) + tags + Array(frame[12...])
    func segments(of input: [UInt8]) throws -> [[UInt8]] {
      try input.withUnsafeBytes { bytes in
        let segmenter = try #require(TCPSegmenter(frame: bytes, offload: offload))
        var output = [UInt8](repeating: 0, count: 2048)
        return (0..<segmenter.segmentCount).map { index in
          let length = output.withUnsafeMutableBytes {
            segmenter.writeSegment(index, of: bytes, to: $0)
          }
          return Array(output[..<length])
        }
      }
    }
    let plain = try segments(of: frame)
    let stacked = try segments(of: tagged)
    #expect(stacked.count == plain.count)
    for (segment, expected) in zip(stacked, plain) {
      #expect(segment == Array(expected[..<12]) + tags + Array(expected[12...]))
    }
  }

  @Test("frames that are not TCPv4 GSO super-packets are refused")
  func refusals() throws {
    let (frame, offload) = try superPacket()
    var udp = offload
    udp.gsoType = VirtioNetHeader.gsoUDPL4
    frame.withUnsafeBytes { bytes in
      #expect(TCPSegmenter(frame: bytes, offload: VirtioNetHeader()) == nil)
      #expect(TCPSegmenter(frame: bytes, offload: udp) == nil)
      #expect(
        TCPSegmenter(frame: UnsafeRawBufferPointer(rebasing: bytes[..<40]), offload: offload) == nil
      )
    }
  }
}
