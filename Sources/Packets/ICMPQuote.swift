/// The datagram an ICMP error quotes: its IPv4 header and the first 8 bytes of its
/// payload, which hold the ports (TCP/UDP) or type, code and identifier (ICMP).
///
/// The simulator uses it to relate an error to the flow that caused it — for reverse NAT
/// and connection tracking of "related" traffic.
public struct ICMPQuote: Hashable, Sendable {
  /// The quoted IPv4 header.
  public var ipv4: IPv4Header
  /// The quoted TCP/UDP source port or ICMP type, when quoted.
  public var transportSource: UInt16?
  /// The quoted TCP/UDP destination port or ICMP code, when quoted.
  public var transportDestination: UInt16?
  /// The quoted ICMP echo identifier, when the quoted datagram is an echo.
  public var icmpEchoID: UInt16?

  public init(
    ipv4: IPv4Header, transportSource: UInt16? = nil, transportDestination: UInt16? = nil,
    icmpEchoID: UInt16? = nil
  ) {
    self.ipv4 = ipv4
    self.transportSource = transportSource
    self.transportDestination = transportDestination
    self.icmpEchoID = icmpEchoID
  }
}
