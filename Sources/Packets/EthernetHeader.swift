import Addresses

/// An Ethernet II header, with at most one 802.1Q tag kept.
///
/// Midge's bridges key on one VLAN id. Stacked tags (802.1ad "QinQ") are tolerated, not
/// modelled: the outermost tag is the one a bridge port sees, so it is kept and the inner
/// tags are skipped, with `tagCount` recording how many there were so the payload offset
/// stays right.
public struct EthernetHeader: Hashable, Sendable {
  /// The length of an untagged header.
  public static let length = 14
  /// The length one 802.1Q tag adds.
  public static let tagLength = 4

  /// The destination address.
  public var destination: MACAddress
  /// The source address.
  public var source: MACAddress
  /// The outermost VLAN tag, if any.
  public var vlan: VLANTag?
  /// The EtherType after all tags: the payload's protocol.
  public var etherType: EtherType
  /// How many VLAN tags the frame carried (0 untagged, 1 802.1Q, 2+ QinQ). Builders write
  /// at most one, so this is 0 or 1 for headers made in code.
  public var tagCount: Int

  /// Creates a header; `vlan` adds a single 802.1Q tag.
  public init(
    destination: MACAddress, source: MACAddress, etherType: EtherType = .ipv4,
    vlan: VLANTag? = nil
  ) {
    self.destination = destination
    self.source = source
    self.etherType = etherType
    self.vlan = vlan
    self.tagCount = vlan == nil ? 0 : 1
  }

  /// Bytes from the start of the frame to the payload.
  public var headerLength: Int { EthernetHeader.length + EthernetHeader.tagLength * tagCount }

  /// Parses the header at the start of `frame`, skipping any inner tags.
  public static func parse(_ frame: UnsafeRawBufferPointer) throws(PacketError) -> EthernetHeader {
    guard frame.count >= length else {
      throw PacketError(.truncatedEthernet, "frame shorter than 14 bytes")
    }
    var header = EthernetHeader(
      destination: frame.readMAC(at: 0), source: frame.readMAC(at: 6),
      etherType: EtherType(rawValue: frame.readUInt16(at: 12)))
    var offset = length
    while header.etherType.isVLANTag {
      guard frame.has(tagLength, at: offset) else {
        throw PacketError(.truncatedVLAN, "VLAN tag cut short")
      }
      if header.tagCount == 0 {
        header.vlan = VLANTag(tci: frame.readUInt16(at: offset))
      }
      header.tagCount += 1
      header.etherType = EtherType(rawValue: frame.readUInt16(at: offset + 2))
      offset += tagLength
    }
    return header
  }

  /// Appends the header in wire format (one 802.1Q tag if `vlan` is set).
  public func append(to bytes: inout [UInt8]) {
    bytes.appendMAC(destination)
    bytes.appendMAC(source)
    if let vlan {
      bytes.appendUInt16(EtherType.vlan.rawValue)
      bytes.appendUInt16(vlan.tci)
    }
    bytes.appendUInt16(etherType.rawValue)
  }
}
