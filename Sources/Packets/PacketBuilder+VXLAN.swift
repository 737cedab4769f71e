/// Whole-frame VXLAN encapsulation, for a datapath that writes the underlay frame itself
/// and for tests. Agents talking over UDP sockets only need
/// `VXLANHeader.encapsulate(_:vni:)`.
extension PacketBuilder {
  /// `inner` wrapped in Ethernet / IPv4 / UDP / VXLAN with key `vni`. The UDP checksum is
  /// 0 by default, as RFC 7348 recommends for IPv4; the outer IPv4 header sets DF only if
  /// `ipv4` does.
  public static func vxlan(
    ethernet: EthernetHeader, ipv4: IPv4Header, sourcePort: UInt16,
    destinationPort: UInt16 = VXLANHeader.port, vni: UInt32, inner: [UInt8],
    computeChecksum: Bool = false
  ) throws(PacketError) -> [UInt8] {
    try udp(
      ethernet: ethernet, ipv4: ipv4, sourcePort: sourcePort, destinationPort: destinationPort,
      payload: VXLANHeader.encapsulate(inner, vni: vni), computeChecksum: computeChecksum)
  }

  /// A UDP source port derived from the inner frame's flow, so that ECMP in the underlay
  /// spreads flows while keeping each flow on one path (RFC 7348 §5). Ephemeral range.
  public static func vxlanSourcePort(for match: FlowMatch) -> UInt16 {
    var hash = UInt32(truncatingIfNeeded: match.ethernetSource.rawValue)
    hash = hash &* 31 &+ UInt32(truncatingIfNeeded: match.ethernetDestination.rawValue)
    hash = hash &* 31 &+ (match.networkSource?.rawValue ?? 0)
    hash = hash &* 31 &+ (match.networkDestination?.rawValue ?? 0)
    hash = hash &* 31 &+ UInt32(match.transportSource ?? 0)
    hash = hash &* 31 &+ UInt32(match.transportDestination ?? 0)
    hash ^= hash >> 16
    return 49_152 + UInt16(truncatingIfNeeded: hash % 16_384)
  }
}
