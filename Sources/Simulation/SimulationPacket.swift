import Packets

/// The packet to simulate: its bytes, and the flow match extracted from them.
///
/// The simulator decides on the match alone; the bytes are only read to build
/// packets sent in answer (ICMP errors quote the original, an echo reply
/// returns its data). Keeping both lets the datapath hand over what it has
/// already parsed, and keeps the frame a shared copy-on-write buffer that the
/// simulation never copies on the common path.
public struct SimulationPacket: Sendable {
  public var frame: [UInt8]
  public var match: FlowMatch

  /// A packet whose match the caller already extracted from `frame`.
  public init(frame: [UInt8], match: FlowMatch) {
    self.frame = frame
    self.match = match
  }

  /// Parses `frame` and extracts its match.
  public init(frame: [UInt8]) throws(PacketError) {
    self.init(frame: frame, match: try FlowMatch(frame: frame, ingressPort: 0))
  }
}
