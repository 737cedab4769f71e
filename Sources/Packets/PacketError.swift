/// The one error type of the `Packets` module.
///
/// Parsing runs on the datapath's fast path, so errors are thrown with typed throws
/// (`throws(PacketError)`): no existential box is allocated, and callers can switch on
/// `code` without casting. Messages are static strings on the parsing path for the same
/// reason; builders and text parsers, which are off the fast path, may say more.
public struct PacketError: Error, CustomStringConvertible {
  /// What went wrong, precise enough for a caller to react (drop, count, log) without
  /// reading the message.
  public enum Code: Hashable, Sendable {
    /// The frame is shorter than an Ethernet header.
    case truncatedEthernet
    /// An 802.1Q/802.1ad tag is announced but cut short.
    case truncatedVLAN
    /// An ARP packet is shorter than 28 bytes.
    case truncatedARP
    /// An ARP packet that is not IPv4 over Ethernet.
    case unsupportedARP
    /// Fewer than 20 bytes of IPv4 header, or fewer than its IHL says.
    case truncatedIPv4
    /// The IP version nibble is not 4.
    case invalidIPv4Version
    /// IHL below 5 (a header shorter than 20 bytes).
    case invalidIPv4HeaderLength
    /// Total length smaller than the header length.
    case invalidIPv4TotalLength
    /// Fewer than 8 bytes of ICMP header.
    case truncatedICMP
    /// Fewer than 20 bytes of TCP header, or fewer than its data offset says.
    case truncatedTCP
    /// TCP data offset below 5.
    case invalidTCPDataOffset
    /// Fewer than 8 bytes of UDP header.
    case truncatedUDP
    /// UDP length field below 8.
    case invalidUDPLength
    /// Fewer than 8 bytes of VXLAN header.
    case truncatedVXLAN
    /// The VXLAN I flag (valid VNI) is clear.
    case invalidVXLANFlags
    /// A frame handed to a VXLAN decapsulator is not IPv4/UDP to the VXLAN port.
    case notVXLAN
    /// An operation needs a layer (IPv4, TCP, ...) the packet does not have.
    case missingLayer
    /// A builder or rewriter was asked for something the packet cannot carry.
    case invalidArgument
    /// A textual address or prefix did not parse.
    case invalidAddress
  }

  /// The machine-readable reason.
  public var code: Code
  /// A human-readable explanation.
  public var message: String
  /// The underlying error, when this one wraps another (for example a decapsulated
  /// inner frame that failed to parse).
  public var cause: (any Error)?

  /// Creates an error; `message` should say what was expected and where.
  public init(_ code: Code, _ message: String, cause: (any Error)? = nil) {
    self.code = code
    self.message = message
    self.cause = cause
  }

  public var description: String {
    if let cause {
      return "PacketError.\(code): \(message) (caused by: \(cause))"
    }
    return "PacketError.\(code): \(message)"
  }
}
