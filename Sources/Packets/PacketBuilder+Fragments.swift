/// IPv4 fragmentation (RFC 791 §3.2), for a datapath forwarding onto a smaller MTU and
/// for tests of fragment handling.
extension PacketBuilder {
  /// Splits an IPv4 frame into fragments whose IP datagrams are at most `mtu` bytes.
  /// Every fragment keeps the Ethernet header; later fragments keep only the options
  /// whose "copied" flag is set. A frame that already fits is returned as is.
  ///
  /// Throws `.missingLayer` for a frame without IPv4, `.invalidArgument` when DF is set
  /// (the sender wants an ICMP "fragmentation needed" instead), when the datagram is
  /// cut short, or when `mtu` leaves no room for 8 bytes of data.
  public static func fragment(_ frame: [UInt8], mtu: Int) throws(PacketError) -> [[UInt8]] {
    let packet = try PacketParser.parse(frame)
    guard let ip = packet.ipv4, let payloadStart = packet.transportOffset else {
      throw PacketError(.missingLayer, "not an IPv4 frame")
    }
    let datagramEnd = packet.networkOffset + Int(ip.totalLength)
    guard datagramEnd <= frame.count else {
      throw PacketError(.invalidArgument, "IPv4 datagram cut short")
    }
    if Int(ip.totalLength) <= mtu { return [frame] }
    guard !ip.dontFragment else {
      throw PacketError(.invalidArgument, "DF set: the datagram may not be fragmented")
    }
    let options = Array(frame[packet.networkOffset + IPv4Header.minimumLength..<payloadStart])
    let laterOptions = copiedOptions(options)
    let payload = frame[payloadStart..<datagramEnd]
    var link = packet.ethernet
    link.tagCount = link.vlan == nil ? 0 : 1
    var fragments: [[UInt8]] = []
    var position = 0
    while position < payload.count {
      let headerLength = IPv4Header.minimumLength + (position == 0 ? options : laterOptions).count
      let room = (mtu - headerLength) / 8 * 8
      guard room >= 8 else {
        throw PacketError(.invalidArgument, "MTU \(mtu) leaves no room for fragment data")
      }
      let end = min(payload.count, position + room)
      var header = ip
      let offsetUnits = Int(ip.fragmentOffset) + position / 8
      guard offsetUnits <= 0x1FFF else {
        throw PacketError(.invalidArgument, "fragment offset out of range")
      }
      header.fragmentOffset = UInt16(offsetUnits)
      header.moreFragments = end < payload.count || ip.moreFragments
      let start = payload.startIndex + position
      fragments.append(
        try ipv4(
          ethernet: link, ipv4: header, options: position == 0 ? options : laterOptions,
          payload: Array(payload[start..<payload.startIndex + end])))
      position = end
    }
    return fragments
  }

  /// The options RFC 791 says every fragment must carry: those with the copied flag.
  private static func copiedOptions(_ options: [UInt8]) -> [UInt8] {
    var copied: [UInt8] = []
    var index = 0
    while index < options.count {
      let type = options[index]
      if type == 0 { break }  // End of option list.
      if type == 1 {  // No-operation.
        index += 1
        continue
      }
      guard index + 1 < options.count else { break }
      let length = Int(options[index + 1])
      guard length >= 2, index + length <= options.count else { break }
      if type & 0x80 != 0 { copied.append(contentsOf: options[index..<index + length]) }
      index += length
    }
    while copied.count % 4 != 0 { copied.append(0) }
    return copied
  }
}
