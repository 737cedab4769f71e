/// Building a `FlowMatch` from a frame.
///
/// Extraction copies values out of a `ParsedPacket`; with the parser it is the per-packet
/// work of the datapath, and like the parser it does not allocate.
extension FlowMatch {
  /// The match of an already parsed packet.
  public init(_ packet: ParsedPacket, ingressPort: UInt32, tunnelKey: UInt32 = 0) {
    self.init(
      ingressPort: ingressPort, tunnelKey: tunnelKey, ethernetSource: packet.ethernet.source,
      ethernetDestination: packet.ethernet.destination, etherType: packet.ethernet.etherType,
      vlanID: packet.ethernet.vlan?.id)
    if let arp = packet.arp {
      arpOperation = arp.operation
      arpSenderHardwareAddress = arp.senderHardwareAddress
      arpSenderProtocolAddress = arp.senderProtocolAddress
      arpTargetHardwareAddress = arp.targetHardwareAddress
      arpTargetProtocolAddress = arp.targetProtocolAddress
    }
    if let ip = packet.ipv4 {
      networkSource = ip.source
      networkDestination = ip.destination
      networkProtocol = ip.ipProtocol
      networkTOS = ip.tos
      networkTTL = ip.ttl
      fragmentType = ip.fragmentType
    }
    switch packet.transport {
    case .tcp(let tcp):
      transportSource = tcp.sourcePort
      transportDestination = tcp.destinationPort
      tcpFlags = tcp.flags
    case .udp(let udp):
      transportSource = udp.sourcePort
      transportDestination = udp.destinationPort
    case .icmp(let icmp):
      transportSource = UInt16(icmp.type.rawValue)
      transportDestination = UInt16(icmp.code)
      if icmp.type.isEcho {
        icmpEchoID = icmp.identifier
      }
    case nil:
      break
    }
  }

  /// Parses `frame` and extracts its match. Throws only when the frame has no usable
  /// Ethernet header; higher-layer problems give a partial match.
  public init(
    frame: UnsafeRawBufferPointer, ingressPort: UInt32, tunnelKey: UInt32 = 0
  ) throws(PacketError) {
    self.init(try PacketParser.parse(frame), ingressPort: ingressPort, tunnelKey: tunnelKey)
  }

  /// Parses `frame` and extracts its match (array convenience).
  public init(frame: [UInt8], ingressPort: UInt32, tunnelKey: UInt32 = 0) throws(PacketError) {
    self.init(try PacketParser.parse(frame), ingressPort: ingressPort, tunnelKey: tunnelKey)
  }
}
