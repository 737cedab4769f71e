import Addresses

/// `[UInt8]` conveniences for the in-place operations, for tests, tools and the
/// simulator, which hold frames as arrays. The datapath uses the buffer-pointer forms.
extension ParsedPacket {
  /// Sets the IPv4 source; see `setNetworkSource(_:in:)`.
  public mutating func setNetworkSource(
    _ address: IPv4Address, in frame: inout [UInt8]
  ) throws(PacketError) {
    try withMutableFrame(&frame) { (packet, bytes) throws(PacketError) in
      try packet.setNetworkSource(address, in: bytes)
    }
  }

  /// Sets the IPv4 destination; see `setNetworkDestination(_:in:)`.
  public mutating func setNetworkDestination(
    _ address: IPv4Address, in frame: inout [UInt8]
  ) throws(PacketError) {
    try withMutableFrame(&frame) { (packet, bytes) throws(PacketError) in
      try packet.setNetworkDestination(address, in: bytes)
    }
  }

  /// Sets the transport source; see `setTransportSource(_:in:)`.
  public mutating func setTransportSource(
    _ port: UInt16, in frame: inout [UInt8]
  ) throws(PacketError) {
    try withMutableFrame(&frame) { (packet, bytes) throws(PacketError) in
      try packet.setTransportSource(port, in: bytes)
    }
  }

  /// Sets the transport destination; see `setTransportDestination(_:in:)`.
  public mutating func setTransportDestination(
    _ port: UInt16, in frame: inout [UInt8]
  ) throws(PacketError) {
    try withMutableFrame(&frame) { (packet, bytes) throws(PacketError) in
      try packet.setTransportDestination(port, in: bytes)
    }
  }

  /// Decrements the TTL; see `decrementTTL(in:)`.
  public mutating func decrementTTL(in frame: inout [UInt8]) throws(PacketError) -> Bool {
    try withMutableFrame(&frame) { (packet, bytes) throws(PacketError) in
      try packet.decrementTTL(in: bytes)
    }
  }

  /// Sets the TTL; see `setTTL(_:in:)`.
  public mutating func setTTL(_ ttl: UInt8, in frame: inout [UInt8]) throws(PacketError) {
    try withMutableFrame(&frame) { (packet, bytes) throws(PacketError) in
      try packet.setTTL(ttl, in: bytes)
    }
  }

  /// Sets the Ethernet source.
  public mutating func setEthernetSource(_ address: MACAddress, in frame: inout [UInt8]) {
    frame.withUnsafeMutableBytes { setEthernetSource(address, in: $0) }
  }

  /// Sets the Ethernet destination.
  public mutating func setEthernetDestination(_ address: MACAddress, in frame: inout [UInt8]) {
    frame.withUnsafeMutableBytes { setEthernetDestination(address, in: $0) }
  }

  /// Recomputes checksums; see `recomputeChecksums(in:)`.
  public mutating func recomputeChecksums(in frame: inout [UInt8]) {
    frame.withUnsafeMutableBytes { recomputeChecksums(in: $0) }
  }

  /// Whether the IPv4 header checksum verifies; see `isIPv4ChecksumValid(in:)`.
  public func isIPv4ChecksumValid(in frame: [UInt8]) -> Bool? {
    frame.withUnsafeBytes { isIPv4ChecksumValid(in: $0) }
  }

  /// Whether the transport checksum verifies; see `isTransportChecksumValid(in:)`.
  public func isTransportChecksumValid(in frame: [UInt8]) -> Bool? {
    frame.withUnsafeBytes { isTransportChecksumValid(in: $0) }
  }

  private mutating func withMutableFrame<R>(
    _ frame: inout [UInt8],
    _ body: (inout ParsedPacket, UnsafeMutableRawBufferPointer) throws(PacketError) -> R
  ) throws(PacketError) -> R {
    var packet = self
    let result: Result<R, PacketError> = frame.withUnsafeMutableBytes { bytes in
      do throws(PacketError) {
        return .success(try body(&packet, bytes))
      } catch {
        return .failure(error)
      }
    }
    self = packet
    return try result.get()
  }
}
