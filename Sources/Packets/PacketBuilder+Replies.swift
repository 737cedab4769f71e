import Addresses

/// Packets generated in answer to another: ICMP errors, echo replies and TCP resets.
/// Each swaps the original's addresses so the answer goes back where it came from, on
/// the original's VLAN.
extension PacketBuilder {
  /// An ICMP error (destination unreachable, time exceeded, ...) about `original`,
  /// quoting its IPv4 header (with options) and the first 8 bytes of its payload
  /// (RFC 792), sent from `ethernetSource`/`networkSource` (the router port) back to the
  /// original sender.
  ///
  /// It does not check whether an error may be sent; ask
  /// `ParsedPacket.mayElicitICMPError` first. Throws `.missingLayer` when `original` has
  /// no IPv4 header.
  public static func icmpError(
    type: ICMPType, code: UInt8, restOfHeader: UInt32 = 0, quoting original: [UInt8],
    ethernetSource: MACAddress, networkSource: IPv4Address, ttl: UInt8 = 64
  ) throws(PacketError) -> [UInt8] {
    let packet = try PacketParser.parse(original)
    guard let ip = packet.ipv4, let payloadStart = packet.transportOffset else {
      throw PacketError(.missingLayer, "ICMP errors quote an IPv4 datagram")
    }
    let quoteEnd = min(packet.networkEnd, payloadStart + 8)
    let quote = Array(original[packet.networkOffset..<quoteEnd])
    return try icmp(
      ethernet: EthernetHeader(
        destination: packet.ethernet.source, source: ethernetSource, vlan: packet.ethernet.vlan),
      ipv4: IPv4Header(source: networkSource, destination: ip.source, ttl: ttl),
      icmp: ICMPHeader(type: type, code: code, restOfHeader: restOfHeader), payload: quote)
  }

  /// The echo reply to an echo request frame: same identifier, sequence and data.
  /// Throws `.missingLayer` unless `request` is a complete ICMP echo request.
  public static func icmpEchoReply(to request: [UInt8], ttl: UInt8 = 64) throws(PacketError)
    -> [UInt8]
  {
    let packet = try PacketParser.parse(request)
    guard let ip = packet.ipv4, let icmp = packet.icmp, icmp.type == .echoRequest,
      let payload = packet.payloadRange
    else {
      throw PacketError(.missingLayer, "not an ICMP echo request")
    }
    var reply = icmp
    reply.type = .echoReply
    return try self.icmp(
      ethernet: EthernetHeader(
        destination: packet.ethernet.source, source: packet.ethernet.destination,
        vlan: packet.ethernet.vlan),
      ipv4: IPv4Header(source: ip.destination, destination: ip.source, ttl: ttl, tos: ip.tos),
      icmp: reply, payload: Array(request[payload]))
  }

  /// The RST a closed port or a REJECT rule sends in answer to `segment`
  /// (RFC 9293 §3.10.7.1): if the segment carries an ACK, the reset takes its sequence
  /// number from it; otherwise it has sequence 0 and acknowledges everything the segment
  /// occupied (data, plus one each for SYN and FIN). Throws `.missingLayer` unless
  /// `segment` is TCP, and `.invalidArgument` for a RST, which is never answered.
  public static func tcpReset(replyingTo segment: [UInt8], ttl: UInt8 = 64) throws(PacketError)
    -> [UInt8]
  {
    let packet = try PacketParser.parse(segment)
    guard let ip = packet.ipv4, let tcp = packet.tcp, let payload = packet.payloadRange else {
      throw PacketError(.missingLayer, "not a TCP segment")
    }
    guard !tcp.flags.contains(.rst) else {
      throw PacketError(.invalidArgument, "a RST is never answered with a RST")
    }
    var reset = TCPHeader(
      sourcePort: tcp.destinationPort, destinationPort: tcp.sourcePort, window: 0)
    if tcp.flags.contains(.ack) {
      reset.sequenceNumber = tcp.acknowledgmentNumber
      reset.flags = .rst
    } else {
      var length = UInt32(truncatingIfNeeded: payload.count)
      if tcp.flags.contains(.syn) { length &+= 1 }
      if tcp.flags.contains(.fin) { length &+= 1 }
      reset.acknowledgmentNumber = tcp.sequenceNumber &+ length
      reset.flags = [.rst, .ack]
    }
    return try self.tcp(
      ethernet: EthernetHeader(
        destination: packet.ethernet.source, source: packet.ethernet.destination,
        vlan: packet.ethernet.vlan),
      ipv4: IPv4Header(source: ip.destination, destination: ip.source, ttl: ttl),
      tcp: reset)
  }
}
