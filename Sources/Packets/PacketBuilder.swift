/// Builds complete frames as `[UInt8]`, with every length and checksum filled in.
///
/// Builders are for the packets Midge originates — ARP replies, ICMP errors, TCP resets,
/// tunnel encapsulation — and for tests, which need valid frames to start from. They are
/// off the fast path, so they favour clarity and allocate freely. Callers describe
/// headers with the header types (`EthernetHeader`, `IPv4Header`, `TCPHeader`, ...);
/// the builder overwrites what it derives from the content (EtherType, IHL, total
/// length, protocol, UDP length, checksums).
///
/// Builders that take a payload throw `.invalidArgument` rather than trap when the
/// result cannot be represented (an IPv4 datagram over 65,535 bytes, options over 40
/// bytes), because payloads can come from the network (a 64 KB offloaded segment being
/// encapsulated, say).
public enum PacketBuilder {
  /// An Ethernet frame with an arbitrary payload.
  public static func ethernet(_ header: EthernetHeader, payload: [UInt8]) -> [UInt8] {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(header.headerLength + payload.count)
    header.append(to: &bytes)
    bytes.append(contentsOf: payload)
    return bytes
  }

  /// An IPv4 frame carrying `payload` as the IP payload. `options` are padded with zeros
  /// (end-of-options) to a multiple of four bytes.
  public static func ipv4(
    ethernet: EthernetHeader, ipv4: IPv4Header, options: [UInt8] = [], payload: [UInt8]
  ) throws(PacketError) -> [UInt8] {
    var padded = options
    while padded.count % 4 != 0 { padded.append(0) }
    guard padded.count <= 40 else {
      throw PacketError(.invalidArgument, "IPv4 options longer than 40 bytes")
    }
    var header = ipv4
    header.headerLength = IPv4Header.minimumLength + padded.count
    let totalLength = header.headerLength + payload.count
    guard totalLength <= Int(UInt16.max) else {
      throw PacketError(.invalidArgument, "IPv4 datagram of \(totalLength) bytes exceeds 65535")
    }
    header.totalLength = UInt16(totalLength)
    header.checksum = 0
    var link = ethernet
    link.etherType = .ipv4
    var bytes: [UInt8] = []
    bytes.reserveCapacity(link.headerLength + totalLength)
    link.append(to: &bytes)
    let start = bytes.count
    header.append(to: &bytes, options: padded)
    let checksum = bytes.withUnsafeBytes {
      Checksum.compute(UnsafeRawBufferPointer(rebasing: $0[start..<start + header.headerLength]))
    }
    bytes.setUInt16(checksum, at: start + 10)
    bytes.append(contentsOf: payload)
    return bytes
  }

  /// An IPv4/UDP frame. With `computeChecksum` false the UDP checksum is sent as 0
  /// ("none"), as tunnels often do.
  public static func udp(
    ethernet: EthernetHeader, ipv4: IPv4Header, sourcePort: UInt16, destinationPort: UInt16,
    payload: [UInt8] = [], computeChecksum: Bool = true, options: [UInt8] = []
  ) throws(PacketError) -> [UInt8] {
    let length = UDPHeader.length + payload.count
    guard length <= Int(UInt16.max) else {
      throw PacketError(.invalidArgument, "UDP datagram of \(length) bytes exceeds 65535")
    }
    var segment: [UInt8] = []
    segment.reserveCapacity(length)
    UDPHeader(sourcePort: sourcePort, destinationPort: destinationPort, length: UInt16(length))
      .append(to: &segment)
    segment.append(contentsOf: payload)
    var header = ipv4
    header.ipProtocol = .udp
    if computeChecksum {
      var checksum = transportChecksum(segment, ipv4: header)
      if checksum == 0 { checksum = 0xFFFF }  // RFC 768: a computed 0 is sent as all ones.
      segment.setUInt16(checksum, at: 6)
    }
    return try Self.ipv4(ethernet: ethernet, ipv4: header, options: options, payload: segment)
  }

  /// An IPv4/TCP frame. `tcp`'s header length is derived from `tcpOptions` (padded with
  /// zeros to a multiple of four, at most 40 bytes) and its checksum is computed.
  public static func tcp(
    ethernet: EthernetHeader, ipv4: IPv4Header, tcp: TCPHeader, tcpOptions: [UInt8] = [],
    payload: [UInt8] = [], options: [UInt8] = []
  ) throws(PacketError) -> [UInt8] {
    var padded = tcpOptions
    while padded.count % 4 != 0 { padded.append(0) }
    guard padded.count <= 40 else {
      throw PacketError(.invalidArgument, "TCP options longer than 40 bytes")
    }
    var header = tcp
    header.headerLength = TCPHeader.minimumLength + padded.count
    header.checksum = 0
    var segment: [UInt8] = []
    segment.reserveCapacity(header.headerLength + payload.count)
    header.append(to: &segment, options: padded)
    segment.append(contentsOf: payload)
    var ip = ipv4
    ip.ipProtocol = .tcp
    segment.setUInt16(transportChecksum(segment, ipv4: ip), at: 16)
    return try Self.ipv4(ethernet: ethernet, ipv4: ip, options: options, payload: segment)
  }

  /// An IPv4/ICMP frame; the ICMP checksum is computed over header and payload.
  public static func icmp(
    ethernet: EthernetHeader, ipv4: IPv4Header, icmp: ICMPHeader, payload: [UInt8] = [],
    options: [UInt8] = []
  ) throws(PacketError) -> [UInt8] {
    var header = icmp
    header.checksum = 0
    var message: [UInt8] = []
    message.reserveCapacity(ICMPHeader.length + payload.count)
    header.append(to: &message)
    message.append(contentsOf: payload)
    message.setUInt16(Checksum.compute(message), at: 2)
    var ip = ipv4
    ip.ipProtocol = .icmp
    return try Self.ipv4(ethernet: ethernet, ipv4: ip, options: options, payload: message)
  }

  /// The TCP/UDP checksum of `segment` (its checksum field zero) under `ipv4`'s
  /// pseudo-header.
  static func transportChecksum(_ segment: [UInt8], ipv4: IPv4Header) -> UInt16 {
    let pseudo = Checksum.pseudoHeaderSum(
      source: ipv4.source, destination: ipv4.destination, ipProtocol: ipv4.ipProtocol,
      length: segment.count)
    return Checksum.finish(Checksum.partialSum(segment, initial: pseudo))
  }
}
