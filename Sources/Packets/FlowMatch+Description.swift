/// An OVS-like one-line rendering, for traces and logs: only present fields appear.
extension FlowMatch: CustomStringConvertible {
  public var description: String {
    var parts: [String] = ["in_port=\(ingressPort)"]
    if tunnelKey != 0 { parts.append("tun_id=\(tunnelKey)") }
    parts.append("eth_src=\(ethernetSource)")
    parts.append("eth_dst=\(ethernetDestination)")
    if let vlanID { parts.append("vlan=\(vlanID)") }
    parts.append("eth_type=\(etherType)")
    if let arpOperation { parts.append("arp_op=\(arpOperation)") }
    if let arpSenderHardwareAddress { parts.append("arp_sha=\(arpSenderHardwareAddress)") }
    if let arpSenderProtocolAddress { parts.append("arp_spa=\(arpSenderProtocolAddress)") }
    if let arpTargetHardwareAddress { parts.append("arp_tha=\(arpTargetHardwareAddress)") }
    if let arpTargetProtocolAddress { parts.append("arp_tpa=\(arpTargetProtocolAddress)") }
    if let networkSource { parts.append("nw_src=\(networkSource)") }
    if let networkDestination { parts.append("nw_dst=\(networkDestination)") }
    if let networkProtocol { parts.append("nw_proto=\(networkProtocol)") }
    if let networkTOS { parts.append("nw_tos=\(networkTOS)") }
    if let networkTTL { parts.append("nw_ttl=\(networkTTL)") }
    if fragmentType != .none { parts.append("nw_frag=\(fragmentType)") }
    if let transportSource { parts.append("tp_src=\(transportSource)") }
    if let transportDestination { parts.append("tp_dst=\(transportDestination)") }
    if let icmpEchoID { parts.append("icmp_id=\(icmpEchoID)") }
    if let tcpFlags { parts.append("tcp_flags=\(tcpFlags)") }
    return parts.joined(separator: " ")
  }
}
