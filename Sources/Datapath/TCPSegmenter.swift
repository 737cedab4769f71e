import Addresses
import Packets

/// Software TCP segmentation (TSO) of a GSO super-packet, for outputs that cannot take
/// the offload with the frame: the tunnel. A veth hands the datapath TCP segments of up
/// to 64 KB (TSO is on by default) that are meant to be cut into `gsoSize`-byte segments
/// by whoever transmits them. A local veth output passes the offload on and the kernel
/// cuts them; a UDP tunnel cannot, since the inner frame must fit one datagram and the
/// far side must see ordinary segments. This cuts them as a NIC would, as OVS's
/// userspace datapath does in software: each segment gets a copy of the headers, its
/// slice of the payload, its own IPv4 total length, identification and header checksum,
/// its own sequence number, FIN and PSH only on the last segment and CWR only on the
/// first, and a complete TCP checksum.
public struct TCPSegmenter: Hashable, Sendable {
  /// Where the IPv4 header starts (after Ethernet and its VLAN tags).
  public let networkOffset: Int
  /// Where the TCP header starts.
  public let transportOffset: Int
  /// Where the payload starts.
  public let payloadOffset: Int
  /// The payload bytes per segment.
  public let segmentSize: Int
  /// The payload bytes of the super-packet.
  public let payloadLength: Int

  /// The layout of `frame` as a TCPv4 GSO super-packet described by `offload`; nil when
  /// it is not one or its headers do not fit.
  public init?(frame: UnsafeRawBufferPointer, offload: VirtioNetHeader) {
    guard offload.gsoType == VirtioNetHeader.gsoTCPv4, offload.gsoSize > 0, frame.count >= 14
    else { return nil }
    var l3 = 14
    var etherType = UInt16(frame[12]) << 8 | UInt16(frame[13])
    // Any number of tags: a flow may push one onto a frame that already has one.
    while EtherType(rawValue: etherType).isVLANTag {
      guard frame.count >= l3 + 4 else { return nil }
      etherType = UInt16(frame[l3 + 2]) << 8 | UInt16(frame[l3 + 3])
      l3 += 4
    }
    guard etherType == 0x0800, frame.count >= l3 + 20, frame[l3] >> 4 == 4, frame[l3 + 9] == 6
    else { return nil }
    let ipHeader = Int(frame[l3] & 0x0F) * 4
    let l4 = l3 + ipHeader
    guard ipHeader >= 20, frame.count >= l4 + 20 else { return nil }
    let tcpHeader = Int(frame[l4 + 12] >> 4) * 4
    let payload = l4 + tcpHeader
    guard tcpHeader >= 20, frame.count >= payload else { return nil }
    networkOffset = l3
    transportOffset = l4
    payloadOffset = payload
    segmentSize = Int(offload.gsoSize)
    payloadLength = frame.count - payload
  }

  /// How many segments the super-packet makes.
  public var segmentCount: Int {
    max(1, (payloadLength + segmentSize - 1) / segmentSize)
  }

  /// The length of segment `index`'s frame.
  public func segmentLength(_ index: Int) -> Int {
    payloadOffset + min(segmentSize, payloadLength - index * segmentSize)
  }

  /// Writes segment `index` of `frame` into `output` (at least `segmentLength(index)`
  /// bytes); returns its length.
  @discardableResult
  public func writeSegment(
    _ index: Int, of frame: UnsafeRawBufferPointer, to output: UnsafeMutableRawBufferPointer
  ) -> Int {
    let start = index * segmentSize
    let length = min(segmentSize, payloadLength - start)
    let total = payloadOffset + length
    precondition(output.count >= total && length >= 0)
    let base = output.baseAddress!
    base.copyMemory(from: frame.baseAddress!, byteCount: payloadOffset)
    (base + payloadOffset).copyMemory(
      from: frame.baseAddress! + payloadOffset + start, byteCount: length)

    let l3 = networkOffset
    let l4 = transportOffset
    func load16(_ at: Int) -> UInt16 { UInt16(output[at]) << 8 | UInt16(output[at + 1]) }
    func store16(_ value: UInt16, _ at: Int) {
      output[at] = UInt8(truncatingIfNeeded: value >> 8)
      output[at + 1] = UInt8(truncatingIfNeeded: value)
    }
    func load32(_ at: Int) -> UInt32 { UInt32(load16(at)) << 16 | UInt32(load16(at + 2)) }
    func store32(_ value: UInt32, _ at: Int) {
      store16(UInt16(truncatingIfNeeded: value >> 16), at)
      store16(UInt16(truncatingIfNeeded: value), at + 2)
    }

    // IPv4: total length, identification, header checksum.
    store16(UInt16(total - l3), l3 + 2)
    store16(load16(l3 + 4) &+ UInt16(truncatingIfNeeded: index), l3 + 4)
    store16(0, l3 + 10)
    store16(
      Checksum.compute(UnsafeRawBufferPointer(rebasing: output[l3..<l4])), l3 + 10)

    // TCP: sequence number, flags, checksum over the pseudo-header and the segment.
    store32(load32(l4 + 4) &+ UInt32(truncatingIfNeeded: start), l4 + 4)
    var flags = output[l4 + 13]
    if index != segmentCount - 1 { flags &= ~(0x01 | 0x08) }  // FIN, PSH: last only
    if index != 0 { flags &= ~0x80 }  // CWR: first only
    output[l4 + 13] = flags
    store16(0, l4 + 16)
    let pseudo = Checksum.pseudoHeaderSum(
      source: IPv4Address(rawValue: load32(l3 + 12)),
      destination: IPv4Address(rawValue: load32(l3 + 16)), ipProtocol: .tcp,
      length: total - l4)
    let sum = Checksum.partialSum(
      UnsafeRawBufferPointer(rebasing: output[l4..<total]), initial: pseudo)
    store16(Checksum.finish(sum), l4 + 16)
    return total
  }
}
