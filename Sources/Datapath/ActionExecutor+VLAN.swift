import Packets

/// VLAN push and pop: the two actions that change a frame's length (see `FrameBuffer`).
///
/// The tag goes right after the addresses, in front of any tags already there, as 802.1Q
/// says a bridge adds one; pop removes that outermost tag. No checksum covers the
/// Ethernet header, but every offset past it moves by 4 bytes: the `ParsedPacket` layers
/// and the virtio_net_hdr's checksum start and header length, so later rewrites, and the
/// kernel finishing a partial checksum or segmenting a GSO frame, still find their fields.
extension ActionExecutor {
  /// The headroom the packet loop leaves before each received frame: room for 8 pushes
  /// more than pops in one action list. The simulator never nets more than one.
  public static let headroom = 32

  /// The 802.1Q TPID a push writes.
  static let vlanTPID: UInt16 = 0x8100

  static func pushVLAN(
    _ tag: VLANTag, packet: inout ParsedPacket, frame: inout FrameBuffer,
    offload: inout VirtioNetHeader
  ) throws(PacketError) {
    let length = EthernetHeader.tagLength
    guard frame.insert(length, at: 12) else {
      throw PacketError(.invalidArgument, "no headroom for a VLAN tag")
    }
    let bytes = frame.bytes
    bytes[12] = UInt8(truncatingIfNeeded: vlanTPID >> 8)
    bytes[13] = UInt8(truncatingIfNeeded: vlanTPID)
    bytes[14] = UInt8(truncatingIfNeeded: tag.tci >> 8)
    bytes[15] = UInt8(truncatingIfNeeded: tag.tci)
    packet.ethernet.vlan = tag
    packet.ethernet.tagCount += 1
    packet.shiftLayers(by: length)
    offload.shiftHeaders(by: length)
  }

  static func popVLAN(
    packet: inout ParsedPacket, frame: inout FrameBuffer, offload: inout VirtioNetHeader
  ) throws(PacketError) {
    let length = EthernetHeader.tagLength
    guard packet.ethernet.tagCount > 0 else {
      throw PacketError(.missingLayer, "no VLAN tag to pop")
    }
    guard frame.remove(length, at: 12) else {
      throw PacketError(.invalidArgument, "frame shorter than its VLAN tag")
    }
    packet.ethernet.tagCount -= 1
    packet.ethernet.vlan = nil
    // An inner tag (QinQ) becomes the outermost one.
    let bytes = frame.bytes
    if packet.ethernet.tagCount > 0, bytes.count >= 16 {
      packet.ethernet.vlan = VLANTag(tci: UInt16(bytes[14]) << 8 | UInt16(bytes[15]))
    }
    packet.shiftLayers(by: -length)
    offload.shiftHeaders(by: -length)
  }
}

extension ParsedPacket {
  /// Moves every layer after the Ethernet addresses by `delta` bytes, after a tag was
  /// inserted or removed in front of them.
  fileprivate mutating func shiftLayers(by delta: Int) {
    frameLength += delta
    networkOffset += delta
    networkEnd += delta
    transportOffset = transportOffset.map { $0 + delta }
    payloadOffset = payloadOffset.map { $0 + delta }
  }
}

extension VirtioNetHeader {
  /// Moves the offsets the header gives from the frame's start by `delta` bytes.
  fileprivate mutating func shiftHeaders(by delta: Int) {
    if isChecksumPartial {
      checksumStart = UInt16(clamping: Int(checksumStart) + delta)
    }
    if headerLength != 0 {
      headerLength = UInt16(clamping: Int(headerLength) + delta)
    }
  }
}
