/// Verifying and recomputing the checksums of a parsed packet in place.
///
/// The parser never verifies checksums: a virtual switch forwards what it is given, and
/// veth interfaces hand over TCP/UDP with the checksum not yet filled in (CHECKSUM_PARTIAL),
/// so "invalid" is normal on ingress. These helpers are for the places that care: tests,
/// the simulator's generated packets, and the datapath completing a partial checksum.
extension ParsedPacket {
  /// Whether the IPv4 header checksum verifies; nil without an IPv4 header.
  public func isIPv4ChecksumValid(in frame: UnsafeRawBufferPointer) -> Bool? {
    guard let ip = ipv4, frame.has(ip.headerLength, at: networkOffset) else { return nil }
    let header = UnsafeRawBufferPointer(
      rebasing: frame[networkOffset..<networkOffset + ip.headerLength])
    return Checksum.compute(header) == 0
  }

  /// Whether the TCP, UDP or ICMP checksum verifies; nil when it cannot be checked (no
  /// transport header, a fragment — the checksum covers the reassembled datagram — or a
  /// datagram cut short). A UDP checksum of 0 ("not computed") counts as valid.
  public func isTransportChecksumValid(in frame: UnsafeRawBufferPointer) -> Bool? {
    if let udp, udp.checksum == 0 {
      return transportChecksumRange(frameCount: frame.count) == nil ? nil : true
    }
    guard let sum = transportSum(in: frame) else { return nil }
    return Checksum.finish(sum) == 0
  }

  /// The checksum the transport header should carry, computed from the bytes present
  /// (the stored checksum field is left out of the sum); nil when it cannot be computed.
  public func expectedTransportChecksum(in frame: UnsafeRawBufferPointer) -> UInt16? {
    guard let sum = transportSum(in: frame), let stored = storedTransportChecksum else {
      return nil
    }
    // Remove the stored field's contribution: ones' complement subtraction is addition
    // of the complement.
    let value = Checksum.finish(sum &+ UInt32(~stored))
    if udp != nil && value == 0 { return 0xFFFF }  // RFC 768: 0 is sent as all ones.
    return value
  }

  /// Recomputes the IPv4 header checksum and the transport checksum (where it can be
  /// computed) in place, and updates this value to match. Used to complete checksums the
  /// sender left partial.
  public mutating func recomputeChecksums(in frame: UnsafeMutableRawBufferPointer) {
    let readable = UnsafeRawBufferPointer(frame)
    if let ip = ipv4, readable.has(ip.headerLength, at: networkOffset) {
      frame.writeUInt16(0, at: networkOffset + 10)
      let header = UnsafeRawBufferPointer(
        rebasing: readable[networkOffset..<networkOffset + ip.headerLength])
      let value = Checksum.compute(header)
      frame.writeUInt16(value, at: networkOffset + 10)
      ipv4?.checksum = value
    }
    guard let value = expectedTransportChecksum(in: readable) else { return }
    setStoredTransportChecksum(value, in: frame)
  }

  /// The byte range the transport checksum covers, when all of it is in the frame.
  func transportChecksumRange(frameCount: Int) -> Range<Int>? {
    guard let ip = ipv4, ip.fragmentType == .none, transport != nil,
      let start = transportOffset
    else { return nil }
    let datagramEnd = networkOffset + Int(ip.totalLength)
    guard datagramEnd <= frameCount, start <= datagramEnd else { return nil }
    var end = datagramEnd
    if let udp {
      end = start + Int(udp.length)
      guard end <= datagramEnd else { return nil }
    }
    return start..<end
  }

  /// The ones' complement sum over the covered bytes (stored checksum included) plus
  /// the pseudo-header for TCP and UDP.
  private func transportSum(in frame: UnsafeRawBufferPointer) -> UInt32? {
    guard let ip = ipv4, let range = transportChecksumRange(frameCount: frame.count) else {
      return nil
    }
    let covered = UnsafeRawBufferPointer(rebasing: frame[range])
    var initial: UInt32 = 0
    if icmp == nil {
      initial = Checksum.pseudoHeaderSum(
        source: ip.source, destination: ip.destination, ipProtocol: ip.ipProtocol,
        length: range.count)
    }
    return Checksum.partialSum(covered, initial: initial)
  }

  /// The transport checksum field's value as parsed.
  var storedTransportChecksum: UInt16? {
    switch transport {
    case .tcp(let header): return header.checksum
    case .udp(let header): return header.checksum
    case .icmp(let header): return header.checksum
    case nil: return nil
    }
  }

  /// The transport checksum field's offset in the frame.
  var transportChecksumOffset: Int? {
    guard let transportOffset else { return nil }
    switch transport {
    case .tcp: return transportOffset + 16
    case .udp: return transportOffset + 6
    case .icmp: return transportOffset + 2
    case nil: return nil
    }
  }

  /// Writes the transport checksum field and keeps this value in step.
  mutating func setStoredTransportChecksum(
    _ value: UInt16, in frame: UnsafeMutableRawBufferPointer
  ) {
    guard let offset = transportChecksumOffset else { return }
    frame.writeUInt16(value, at: offset)
    switch transport {
    case .tcp(var header):
      header.checksum = value
      transport = .tcp(header)
    case .udp(var header):
      header.checksum = value
      transport = .udp(header)
    case .icmp(var header):
      header.checksum = value
      transport = .icmp(header)
    case nil:
      break
    }
  }
}
