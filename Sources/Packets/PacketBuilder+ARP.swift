import Addresses

/// ARP frames: requests, replies and the gratuitous announcements a port's new holder
/// sends after a failover so that neighbours update their caches.
extension PacketBuilder {
  /// An Ethernet frame carrying `packet`.
  public static func arp(
    _ packet: ARPPacket, ethernetSource: MACAddress, ethernetDestination: MACAddress,
    vlan: VLANTag? = nil
  ) -> [UInt8] {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(EthernetHeader.length + EthernetHeader.tagLength + ARPPacket.length)
    EthernetHeader(
      destination: ethernetDestination, source: ethernetSource, etherType: .arp, vlan: vlan
    ).append(to: &bytes)
    packet.append(to: &bytes)
    return bytes
  }

  /// A broadcast "who has `targetIP`? tell `senderIP`".
  public static func arpRequest(
    senderMAC: MACAddress, senderIP: IPv4Address, targetIP: IPv4Address, vlan: VLANTag? = nil
  ) -> [UInt8] {
    arp(
      ARPPacket(
        operation: .request, senderHardwareAddress: senderMAC, senderProtocolAddress: senderIP,
        targetHardwareAddress: .zero, targetProtocolAddress: targetIP),
      ethernetSource: senderMAC, ethernetDestination: .broadcast, vlan: vlan)
  }

  /// A unicast "`senderIP` is at `senderMAC`" sent to `targetMAC`.
  public static func arpReply(
    senderMAC: MACAddress, senderIP: IPv4Address, targetMAC: MACAddress, targetIP: IPv4Address,
    vlan: VLANTag? = nil
  ) -> [UInt8] {
    arp(
      ARPPacket(
        operation: .reply, senderHardwareAddress: senderMAC, senderProtocolAddress: senderIP,
        targetHardwareAddress: targetMAC, targetProtocolAddress: targetIP),
      ethernetSource: senderMAC, ethernetDestination: targetMAC, vlan: vlan)
  }

  /// The reply to an ARP request frame, answering that its target address is at `mac`
  /// (on the request's VLAN). Throws `.missingLayer` unless `request` is an ARP request.
  public static func arpReply(answering request: [UInt8], with mac: MACAddress)
    throws(PacketError) -> [UInt8]
  {
    let packet = try PacketParser.parse(request)
    guard let arp = packet.arp, arp.operation == .request else {
      throw PacketError(.missingLayer, "not an ARP request")
    }
    return arpReply(
      senderMAC: mac, senderIP: arp.targetProtocolAddress, targetMAC: arp.senderHardwareAddress,
      targetIP: arp.senderProtocolAddress, vlan: packet.ethernet.vlan)
  }

  /// A gratuitous ARP: a broadcast request whose sender and target addresses are both
  /// `ip`, announcing that `ip` is now at `mac`.
  public static func gratuitousARP(mac: MACAddress, ip: IPv4Address, vlan: VLANTag? = nil)
    -> [UInt8]
  {
    arp(
      ARPPacket(
        operation: .request, senderHardwareAddress: mac, senderProtocolAddress: ip,
        targetHardwareAddress: .zero, targetProtocolAddress: ip),
      ethernetSource: mac, ethernetDestination: .broadcast, vlan: vlan)
  }
}
