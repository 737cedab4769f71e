/// The layers found in one frame: header values plus the byte offsets where each layer
/// starts, so rewriters and checksum code can go straight to a field.
///
/// It holds no reference to the frame and no heap storage: producing one allocates
/// nothing, and it can be kept next to the buffer it describes (see `PacketParser`).
/// Absent layers are nil; `issue` says why parsing stopped early, if it did.
public struct ParsedPacket: Hashable, Sendable {
  /// The Ethernet header (outer VLAN tag, payload EtherType).
  public var ethernet: EthernetHeader
  /// The frame's length in bytes, as parsed.
  public var frameLength: Int
  /// The offset of the network layer (after the Ethernet header and its tags).
  public var networkOffset: Int
  /// The ARP packet, when the EtherType is ARP and the packet is IPv4 over Ethernet.
  public var arp: ARPPacket?
  /// The IPv4 header, when the EtherType is IPv4 and the header is well formed.
  public var ipv4: IPv4Header?
  /// The end of the IPv4 datagram in the frame: `networkOffset + totalLength`, or the
  /// frame's end if the frame is shorter. Bytes past it (Ethernet padding) are ignored.
  public var networkEnd: Int
  /// The offset of the IPv4 payload (after options); set whenever `ipv4` is.
  public var transportOffset: Int?
  /// The transport header, for unfragmented datagrams and first fragments whose
  /// header is complete.
  public var transport: TransportHeader?
  /// The offset of the transport payload (after the TCP/UDP/ICMP header).
  public var payloadOffset: Int?
  /// Why a layer the frame announces is missing: the first truncation or malformation
  /// met above the Ethernet header, or nil when everything announced was parsed.
  public var issue: PacketError.Code?

  /// A packet with only its Ethernet layer; the parser fills in the rest.
  public init(ethernet: EthernetHeader, frameLength: Int) {
    self.ethernet = ethernet
    self.frameLength = frameLength
    self.networkOffset = ethernet.headerLength
    self.networkEnd = ethernet.headerLength
  }

  /// The TCP header, if the transport layer is TCP.
  public var tcp: TCPHeader? {
    if case .tcp(let header) = transport { return header }
    return nil
  }

  /// The UDP header, if the transport layer is UDP.
  public var udp: UDPHeader? {
    if case .udp(let header) = transport { return header }
    return nil
  }

  /// The ICMP header, if the transport layer is ICMP.
  public var icmp: ICMPHeader? {
    if case .icmp(let header) = transport { return header }
    return nil
  }

  /// The transport payload's range in the frame (bounded by the IP datagram, and for UDP
  /// by its length field), or nil without a transport layer.
  public var payloadRange: Range<Int>? {
    guard let payloadOffset else { return nil }
    var end = networkEnd
    if let udp, let transportOffset {
      end = min(end, transportOffset + Int(udp.length))
    }
    return payloadOffset..<max(payloadOffset, end)
  }
}
