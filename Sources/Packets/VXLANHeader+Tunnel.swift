/// Encapsulation and decapsulation.
///
/// Agents exchange tunnel traffic over ordinary UDP sockets, so the common case is a UDP
/// payload: 8 bytes of VXLAN header and the inner frame (`decapsulate(payload:)`). Whole
/// outer frames (captures, tests, a datapath that owns the underlay NIC) go through
/// `decapsulate(frame:)`, which also checks the outer IPv4/UDP layers.
extension VXLANHeader {
  /// Unwraps a UDP payload: header, then the inner frame.
  public static func decapsulate(
    payload: UnsafeRawBufferPointer
  ) throws(PacketError) -> VXLANPacket {
    let header = try parse(payload, at: 0)
    return VXLANPacket(header: header, outer: nil, innerRange: length..<payload.count)
  }

  /// Unwraps a whole frame: Ethernet / IPv4 (unfragmented) / UDP to `port` / VXLAN /
  /// inner frame. The inner frame ends where the UDP length says.
  public static func decapsulate(
    frame: UnsafeRawBufferPointer, port: UInt16 = VXLANHeader.port
  ) throws(PacketError) -> VXLANPacket {
    let outer = try PacketParser.parse(frame)
    guard let ip = outer.ipv4, ip.fragmentType == .none, let udp = outer.udp,
      udp.destinationPort == port, let payload = outer.payloadRange
    else {
      throw PacketError(.notVXLAN, "not an unfragmented IPv4/UDP datagram to the VXLAN port")
    }
    let header = try parse(
      UnsafeRawBufferPointer(rebasing: frame[0..<payload.upperBound]),
      at: payload.lowerBound)
    return VXLANPacket(
      header: header, outer: outer, innerRange: payload.lowerBound + length..<payload.upperBound)
  }

  /// Unwraps a whole frame held in an array and copies the inner frame out.
  public static func decapsulate(
    frame: [UInt8], port: UInt16 = VXLANHeader.port
  ) throws(PacketError) -> (vni: UInt32, inner: [UInt8]) {
    let result: Result<(UInt32, [UInt8]), PacketError> = frame.withUnsafeBytes { bytes in
      do throws(PacketError) {
        let packet = try decapsulate(frame: bytes, port: port)
        return .success((packet.header.vni, Array(bytes[packet.innerRange])))
      } catch {
        return .failure(error)
      }
    }
    return try result.get()
  }

  /// The UDP payload that carries `inner` through a tunnel with key `vni`.
  public static func encapsulate(_ inner: [UInt8], vni: UInt32) -> [UInt8] {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(length + inner.count)
    VXLANHeader(vni: vni).append(to: &bytes)
    bytes.append(contentsOf: inner)
    return bytes
  }
}
