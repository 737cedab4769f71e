/// ICMP-specific questions about a parsed packet.
extension ParsedPacket {
  /// The datagram quoted by an ICMP error message, or nil if this is not an ICMP error
  /// or the quote is unreadable.
  public func icmpQuote(in frame: UnsafeRawBufferPointer) -> ICMPQuote? {
    guard let icmp, icmp.type.isError, let start = payloadOffset, networkEnd <= frame.count
    else { return nil }
    let datagram = UnsafeRawBufferPointer(rebasing: frame[0..<networkEnd])
    guard let inner = try? IPv4Header.parse(datagram, at: start) else { return nil }
    var quote = ICMPQuote(ipv4: inner)
    let transport = start + inner.headerLength
    guard inner.fragmentType != .later, datagram.has(4, at: transport) else { return quote }
    switch inner.ipProtocol {
    case .tcp, .udp:
      quote.transportSource = datagram.readUInt16(at: transport)
      quote.transportDestination = datagram.readUInt16(at: transport + 2)
    case .icmp:
      let type = ICMPType(rawValue: datagram.readUInt8(at: transport))
      quote.transportSource = UInt16(type.rawValue)
      quote.transportDestination = UInt16(datagram.readUInt8(at: transport + 1))
      if type.isEcho && datagram.has(6, at: transport) {
        quote.icmpEchoID = datagram.readUInt16(at: transport + 4)
      }
    default:
      break
    }
    return quote
  }

  /// The quoted datagram of an ICMP error held in an array.
  public func icmpQuote(in frame: [UInt8]) -> ICMPQuote? {
    frame.withUnsafeBytes { icmpQuote(in: $0) }
  }

  /// Whether a router may answer this packet with an ICMP error (RFC 1122 §3.2.2,
  /// RFC 1812 §4.3.2.7): it must be IPv4, not itself an ICMP error, not a later fragment,
  /// not sent to a link-layer or IP broadcast or multicast, and from a unicast source.
  /// Without these checks two routers can answer each other's errors forever.
  public var mayElicitICMPError: Bool {
    guard let ip = ipv4 else { return false }
    if ip.fragmentType == .later { return false }
    if ethernet.destination.isMulticast { return false }
    if ip.destination.isBroadcast || ip.destination.isMulticast { return false }
    if ip.source.isUnspecified || ip.source.isBroadcast || ip.source.isMulticast
      || ip.source.isLoopback
    {
      return false
    }
    if ip.ipProtocol == .icmp {
      // An ICMP datagram whose header is missing cannot be shown not to be an error.
      guard let icmp else { return false }
      if icmp.type.isError { return false }
    }
    return true
  }
}
