import Addresses
import Packets

/// Runs a flow's actions on one packet, in order, in place (a VLAN push grows the frame
/// into the headroom before it; see `FrameBuffer`).
///
/// Set-field actions rewrite the frame and fix the checksums that cover the field
/// incrementally (RFC 1624, through `ParsedPacket`'s rewriters), so no payload is
/// re-summed; outputs hand the frame as it is at that point to a `PacketOutput`. A drop
/// action, a TTL that would reach zero, or a rewrite the packet has no layer for ends the
/// packet; outputs already made stand, as in OVS.
///
/// Partial checksums. A GSO frame keeps its offload (the kernel segments it and finishes
/// each segment's checksum on the way out), so its transport checksum field holds the
/// uncomplemented pseudo-header sum S rather than a checksum. An address rewrite then
/// adjusts S itself (S' = S - old + new) and a port rewrite leaves it alone, since the
/// ports are in the range the kernel will sum. Ordinary frames have their partial
/// checksum completed before the lookup and are rewritten normally.
public enum ActionExecutor {
  /// How a packet's actions ended.
  public enum Outcome: Hashable, Sendable {
    /// All actions ran; `outputs` is how many outputs and encapsulations were made.
    case completed(outputs: Int)
    /// A drop action ran.
    case dropped(reason: String)
    /// The TTL was 0 or 1 at a decrement.
    case ttlExpired
    /// A rewrite needed a layer the packet does not have.
    case rewriteFailed(PacketError.Code)
  }

  /// Runs `actions` on `frame`, described by `packet` (both kept up to date: a VLAN push
  /// or pop moves the frame's start), with offload state `offload`, sending through
  /// `output`.
  public static func execute<Output: PacketOutput>(
    _ actions: [DatapathAction], packet: inout ParsedPacket, frame: inout FrameBuffer,
    offload: VirtioNetHeader = VirtioNetHeader(), output: inout Output
  ) -> Outcome {
    var outputs = 0
    var offload = offload
    let partial = offload.isChecksumPartial
    do throws(PacketError) {
      for action in actions {
        switch action {
        case .output(let port):
          output.output(port: port, frame: UnsafeRawBufferPointer(frame.bytes), offload: offload)
          outputs += 1
        case .encapsulate(let key, let remote):
          output.encapsulate(
            tunnelKey: key, remote: remote, frame: UnsafeRawBufferPointer(frame.bytes),
            offload: offload)
          outputs += 1
        case .setEthernetSource(let address):
          packet.setEthernetSource(address, in: frame.bytes)
        case .setEthernetDestination(let address):
          packet.setEthernetDestination(address, in: frame.bytes)
        case .setIPv4Source(let address):
          try rewriteAddress(
            address, source: true, packet: &packet, frame: frame.bytes, partial: partial)
        case .setIPv4Destination(let address):
          try rewriteAddress(
            address, source: false, packet: &packet, frame: frame.bytes, partial: partial)
        case .setTransportSource(let port):
          let bytes = frame.bytes
          try keepingPartialSum(packet, bytes, partial) { () throws(PacketError) in
            try packet.setTransportSource(port, in: bytes)
          }
        case .setTransportDestination(let port):
          let bytes = frame.bytes
          try keepingPartialSum(packet, bytes, partial) { () throws(PacketError) in
            try packet.setTransportDestination(port, in: bytes)
          }
        case .decrementTTL:
          guard try packet.decrementTTL(in: frame.bytes) else { return .ttlExpired }
        case .setTTL(let ttl):
          // The TTL is not in the pseudo-header, so a partial sum needs nothing.
          try packet.setTTL(ttl, in: frame.bytes)
        case .pushVLAN(let tag):
          try pushVLAN(tag, packet: &packet, frame: &frame, offload: &offload)
        case .popVLAN:
          try popVLAN(packet: &packet, frame: &frame, offload: &offload)
        case .drop(let reason):
          return .dropped(reason: reason)
        }
      }
    } catch {
      return .rewriteFailed(error.code)
    }
    return .completed(outputs: outputs)
  }

  /// The transport checksum field's offset, for TCP and UDP.
  static func pseudoSumOffset(_ packet: ParsedPacket) -> Int? {
    guard let start = packet.transportOffset else { return nil }
    switch packet.transport {
    case .tcp: return start + 16
    case .udp: return start + 6
    default: return nil
    }
  }

  private static func rewriteAddress(
    _ address: IPv4Address, source: Bool, packet: inout ParsedPacket,
    frame: UnsafeMutableRawBufferPointer, partial: Bool
  ) throws(PacketError) {
    let old = (source ? packet.ipv4?.source : packet.ipv4?.destination) ?? .any
    let field = partial ? pseudoSumOffset(packet) : nil
    let sum = field.map { readUInt16(frame, $0) }
    if source {
      try packet.setNetworkSource(address, in: frame)
    } else {
      try packet.setNetworkDestination(address, in: frame)
    }
    if let field, let sum {
      // S' = S - old + new in ones' complement: the complemented update of ~S.
      let updated = ~Checksum.update(~sum, old32: old.rawValue, new32: address.rawValue)
      writeUInt16(frame, field, updated)
    }
  }

  private static func keepingPartialSum(
    _ packet: ParsedPacket, _ frame: UnsafeMutableRawBufferPointer, _ partial: Bool,
    _ body: () throws(PacketError) -> Void
  ) throws(PacketError) {
    guard partial, let field = pseudoSumOffset(packet) else { return try body() }
    let sum = readUInt16(frame, field)
    try body()
    writeUInt16(frame, field, sum)
  }

  static func readUInt16(_ frame: UnsafeMutableRawBufferPointer, _ offset: Int) -> UInt16 {
    guard offset >= 0, offset + 2 <= frame.count else { return 0 }
    return UInt16(frame[offset]) << 8 | UInt16(frame[offset + 1])
  }

  static func writeUInt16(_ frame: UnsafeMutableRawBufferPointer, _ offset: Int, _ value: UInt16) {
    guard offset >= 0, offset + 2 <= frame.count else { return }
    frame[offset] = UInt8(truncatingIfNeeded: value >> 8)
    frame[offset + 1] = UInt8(truncatingIfNeeded: value)
  }
}
