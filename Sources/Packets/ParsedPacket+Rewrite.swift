import Addresses

/// In-place field rewrites with incremental checksum updates (RFC 1624).
///
/// The datapath applies flow actions — NAT, routing's TTL decrement and MAC rewrite —
/// to every packet of a flow. Each rewrite here changes the field in the frame, adjusts
/// every checksum that covers it from the old and new values alone (never re-summing the
/// payload), and updates the `ParsedPacket` so several rewrites can be chained. They
/// allocate nothing.
///
/// Coverage: the IPv4 header checksum covers TTL and addresses; TCP and UDP checksums
/// cover the addresses through the pseudo-header and their ports; ICMP covers its echo
/// identifier but not the addresses. A UDP checksum of 0 means "none" and stays 0; an
/// updated UDP checksum that comes out as 0 is sent as 0xFFFF (RFC 768). A later
/// fragment carries no transport checksum, so only its IPv4 checksum changes; a first
/// fragment's transport checksum covers the whole datagram and is updated like any other.
extension ParsedPacket {
  /// Sets the Ethernet source (no checksum covers it).
  public mutating func setEthernetSource(
    _ address: MACAddress, in frame: UnsafeMutableRawBufferPointer
  ) {
    frame.writeMAC(address, at: 6)
    ethernet.source = address
  }

  /// Sets the Ethernet destination (no checksum covers it).
  public mutating func setEthernetDestination(
    _ address: MACAddress, in frame: UnsafeMutableRawBufferPointer
  ) {
    frame.writeMAC(address, at: 0)
    ethernet.destination = address
  }

  /// Sets the IPv4 source, updating the IPv4 and TCP/UDP checksums.
  public mutating func setNetworkSource(
    _ address: IPv4Address, in frame: UnsafeMutableRawBufferPointer
  ) throws(PacketError) {
    try rewriteAddress(address, fieldOffset: 12, in: frame)
  }

  /// Sets the IPv4 destination, updating the IPv4 and TCP/UDP checksums.
  public mutating func setNetworkDestination(
    _ address: IPv4Address, in frame: UnsafeMutableRawBufferPointer
  ) throws(PacketError) {
    try rewriteAddress(address, fieldOffset: 16, in: frame)
  }

  /// Sets the TCP/UDP source port, or the ICMP echo identifier (which NAT treats as the
  /// source port), updating the transport checksum.
  public mutating func setTransportSource(
    _ port: UInt16, in frame: UnsafeMutableRawBufferPointer
  ) throws(PacketError) {
    try checkFrame(frame)
    guard let offset = transportOffset else {
      throw PacketError(.missingLayer, "no transport header to rewrite")
    }
    // Store the new header before adjusting the checksum, which updates `transport`
    // again.
    let old: UInt16
    let fieldOffset: Int
    switch transport {
    case .tcp(var header):
      (old, fieldOffset) = (header.sourcePort, offset)
      header.sourcePort = port
      transport = .tcp(header)
    case .udp(var header):
      (old, fieldOffset) = (header.sourcePort, offset)
      header.sourcePort = port
      transport = .udp(header)
    case .icmp(var header):
      guard header.type.isEcho else {
        throw PacketError(.missingLayer, "ICMP message has no identifier to rewrite")
      }
      (old, fieldOffset) = (header.identifier, offset + 4)
      header.restOfHeader = UInt32(port) << 16 | header.restOfHeader & 0xFFFF
      transport = .icmp(header)
    case nil:
      throw PacketError(.missingLayer, "no transport header to rewrite")
    }
    rewrite16(port, old: old, at: fieldOffset, in: frame)
  }

  /// Sets the TCP/UDP destination port, updating the transport checksum.
  public mutating func setTransportDestination(
    _ port: UInt16, in frame: UnsafeMutableRawBufferPointer
  ) throws(PacketError) {
    try checkFrame(frame)
    guard let offset = transportOffset else {
      throw PacketError(.missingLayer, "no transport header to rewrite")
    }
    let old: UInt16
    switch transport {
    case .tcp(var header):
      old = header.destinationPort
      header.destinationPort = port
      transport = .tcp(header)
    case .udp(var header):
      old = header.destinationPort
      header.destinationPort = port
      transport = .udp(header)
    case .icmp, nil:
      throw PacketError(.missingLayer, "no TCP/UDP header to rewrite")
    }
    rewrite16(port, old: old, at: offset + 2, in: frame)
  }

  /// Decrements the TTL as a router does, updating the IPv4 checksum. Returns false,
  /// changing nothing, when the TTL is 0 or 1: the packet must be dropped and answered
  /// with an ICMP time exceeded.
  public mutating func decrementTTL(in frame: UnsafeMutableRawBufferPointer) throws(PacketError)
    -> Bool
  {
    try checkFrame(frame)
    guard var ip = ipv4 else { throw PacketError(.missingLayer, "no IPv4 header") }
    guard ip.ttl > 1 else { return false }
    let old = UInt16(ip.ttl) << 8 | UInt16(ip.ipProtocol.rawValue)
    ip.ttl -= 1
    let new = UInt16(ip.ttl) << 8 | UInt16(ip.ipProtocol.rawValue)
    frame.writeUInt8(ip.ttl, at: networkOffset + 8)
    ip.checksum = Checksum.update(ip.checksum, old: old, new: new)
    frame.writeUInt16(ip.checksum, at: networkOffset + 10)
    ipv4 = ip
    return true
  }

  /// Sets the TTL, updating the IPv4 checksum incrementally. The simulator restores a TTL
  /// this way when a flood's branches routed differently; unlike `decrementTTL` any value
  /// is taken, 0 included, since the simulation already decided the packet goes out.
  public mutating func setTTL(_ ttl: UInt8, in frame: UnsafeMutableRawBufferPointer)
    throws(PacketError)
  {
    try checkFrame(frame)
    guard var ip = ipv4 else { throw PacketError(.missingLayer, "no IPv4 header") }
    // TTL shares its 16-bit checksum word with the protocol byte.
    let old = UInt16(ip.ttl) << 8 | UInt16(ip.ipProtocol.rawValue)
    let new = UInt16(ttl) << 8 | UInt16(ip.ipProtocol.rawValue)
    ip.ttl = ttl
    frame.writeUInt8(ttl, at: networkOffset + 8)
    ip.checksum = Checksum.update(ip.checksum, old: old, new: new)
    frame.writeUInt16(ip.checksum, at: networkOffset + 10)
    ipv4 = ip
  }

  private func checkFrame(_ frame: UnsafeMutableRawBufferPointer) throws(PacketError) {
    guard frame.count >= frameLength else {
      throw PacketError(.invalidArgument, "frame shorter than the parsed packet")
    }
  }

  private mutating func rewriteAddress(
    _ address: IPv4Address, fieldOffset: Int, in frame: UnsafeMutableRawBufferPointer
  ) throws(PacketError) {
    try checkFrame(frame)
    guard var ip = ipv4 else { throw PacketError(.missingLayer, "no IPv4 header") }
    let old: IPv4Address
    if fieldOffset == 12 {
      old = ip.source
      ip.source = address
    } else {
      old = ip.destination
      ip.destination = address
    }
    frame.writeUInt32(address.rawValue, at: networkOffset + fieldOffset)
    ip.checksum = Checksum.update(ip.checksum, old32: old.rawValue, new32: address.rawValue)
    frame.writeUInt16(ip.checksum, at: networkOffset + 10)
    ipv4 = ip
    // The pseudo-header puts addresses under TCP and UDP checksums, not ICMP's.
    guard tcp != nil || udp != nil, let stored = storedTransportChecksum else { return }
    if udp != nil && stored == 0 { return }
    var value = Checksum.update(stored, old32: old.rawValue, new32: address.rawValue)
    if udp != nil && value == 0 { value = 0xFFFF }
    setStoredTransportChecksum(value, in: frame)
  }

  /// Writes a 16-bit field the transport checksum covers and adjusts the checksum.
  private mutating func rewrite16(
    _ new: UInt16, old: UInt16, at offset: Int, in frame: UnsafeMutableRawBufferPointer
  ) {
    frame.writeUInt16(new, at: offset)
    adjustTransportChecksum(old: old, new: new, in: frame)
  }

  private mutating func adjustTransportChecksum(
    old: UInt16, new: UInt16, in frame: UnsafeMutableRawBufferPointer
  ) {
    guard let stored = storedTransportChecksum else { return }
    if udp != nil && stored == 0 { return }
    var value = Checksum.update(stored, old: old, new: new)
    if udp != nil && value == 0 { value = 0xFFFF }
    setStoredTransportChecksum(value, in: frame)
  }
}
