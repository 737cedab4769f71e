/// Well-known ICMP codes, grouped by the type they belong to.
public enum ICMPCode {
  /// Codes of `ICMPType.destinationUnreachable`.
  public enum Unreachable {
    /// No route to the network.
    public static let network: UInt8 = 0
    /// The host does not answer ARP.
    public static let host: UInt8 = 1
    /// The protocol is not served.
    public static let `protocol`: UInt8 = 2
    /// Nothing listens on the port.
    public static let port: UInt8 = 3
    /// DF set but the datagram exceeds the next hop's MTU; carries the MTU.
    public static let fragmentationNeeded: UInt8 = 4
    /// A filter (a REJECT rule) refused the datagram (RFC 1812).
    public static let administrativelyProhibited: UInt8 = 13
  }

  /// Codes of `ICMPType.timeExceeded`.
  public enum TimeExceeded {
    /// TTL reached zero in transit.
    public static let ttl: UInt8 = 0
    /// Fragment reassembly timed out.
    public static let reassembly: UInt8 = 1
  }
}
