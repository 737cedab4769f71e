import Addresses

/// The exact-match key of a flow: everything the simulator may look at in a packet,
/// plus where it came from.
///
/// Flat and made of small value fields so that hashing it once per packet is cheap and
/// two packets of one flow always give equal keys. Absent layers are nil rather than
/// zero, so "no L4 header" (a later fragment, a truncated TCP header) never collides
/// with "port 0". For ICMP the transport ports carry the type (source) and code
/// (destination), as in OVS and MidoNet, and `icmpEchoID` carries the echo identifier
/// that NAT treats as a port.
public struct FlowMatch: Hashable, Sendable {
  /// The port the packet entered on, as numbered by the caller (the datapath).
  public var ingressPort: UInt32
  /// The tunnel key it arrived with (the VXLAN VNI), 0 when it did not come from a tunnel.
  public var tunnelKey: UInt32

  /// Ethernet source.
  public var ethernetSource: MACAddress
  /// Ethernet destination.
  public var ethernetDestination: MACAddress
  /// The EtherType after any VLAN tags.
  public var etherType: EtherType
  /// The outer VLAN id, nil for an untagged frame.
  public var vlanID: UInt16?

  /// IPv4 source.
  public var networkSource: IPv4Address?
  /// IPv4 destination.
  public var networkDestination: IPv4Address?
  /// IPv4 protocol.
  public var networkProtocol: IPProtocol?
  /// IPv4 type of service.
  public var networkTOS: UInt8?
  /// IPv4 time to live.
  public var networkTTL: UInt8?
  /// Where the datagram sits in a fragmented whole; `.none` for non-IP packets.
  public var fragmentType: FragmentType

  /// TCP/UDP source port, or the ICMP type.
  public var transportSource: UInt16?
  /// TCP/UDP destination port, or the ICMP code.
  public var transportDestination: UInt16?
  /// The ICMP echo identifier, for echo requests and replies.
  public var icmpEchoID: UInt16?
  /// The TCP control bits.
  public var tcpFlags: TCPFlags?

  /// The ARP opcode.
  public var arpOperation: ARPPacket.Operation?
  /// ARP sender hardware address.
  public var arpSenderHardwareAddress: MACAddress?
  /// ARP sender protocol address.
  public var arpSenderProtocolAddress: IPv4Address?
  /// ARP target hardware address.
  public var arpTargetHardwareAddress: MACAddress?
  /// ARP target protocol address.
  public var arpTargetProtocolAddress: IPv4Address?

  /// A match with only the L2 fields; the rest absent. Useful for building matches by
  /// hand in the simulator and tests.
  public init(
    ingressPort: UInt32 = 0, tunnelKey: UInt32 = 0, ethernetSource: MACAddress = .zero,
    ethernetDestination: MACAddress = .zero, etherType: EtherType = .ipv4, vlanID: UInt16? = nil
  ) {
    self.ingressPort = ingressPort
    self.tunnelKey = tunnelKey
    self.ethernetSource = ethernetSource
    self.ethernetDestination = ethernetDestination
    self.etherType = etherType
    self.vlanID = vlanID
    self.fragmentType = .none
  }

  /// Hashes the key as nine machine words instead of field by field.
  ///
  /// The datapath hashes one key per packet, and the synthesized conformance feeds the
  /// hasher some forty small values (each optional adds a tag), which made hashing cost
  /// more than parsing. Packing the same fields into words keeps equal keys hashing
  /// equally (every compared field is included) for a third of the work. Presence bits
  /// keep an absent field apart from a zero one.
  public func hash(into hasher: inout Hasher) {
    var presence: UInt64 = 0
    func flag<T>(_ value: T?, _ bit: UInt64) -> UInt64 { value == nil ? 0 : 1 << bit }
    presence |= flag(vlanID, 0) | flag(networkSource, 1) | flag(networkDestination, 2)
    presence |= flag(networkProtocol, 3) | flag(networkTOS, 4) | flag(networkTTL, 5)
    presence |= flag(transportSource, 6) | flag(transportDestination, 7)
    presence |= flag(icmpEchoID, 8) | flag(tcpFlags, 9) | flag(arpOperation, 10)
    presence |= flag(arpSenderHardwareAddress, 11) | flag(arpSenderProtocolAddress, 12)
    presence |= flag(arpTargetHardwareAddress, 13) | flag(arpTargetProtocolAddress, 14)
    presence |= UInt64(fragmentType.rawValue) << 16

    hasher.combine(UInt64(ingressPort) << 32 | UInt64(tunnelKey))
    hasher.combine(ethernetSource.rawValue << 16 | UInt64(etherType.rawValue))
    hasher.combine(ethernetDestination.rawValue << 16 | UInt64(vlanID ?? 0))
    hasher.combine(
      UInt64(networkSource?.rawValue ?? 0) << 32 | UInt64(networkDestination?.rawValue ?? 0))
    var l3: UInt64 = UInt64(networkProtocol?.rawValue ?? 0)
    l3 |= UInt64(networkTOS ?? 0) << 8 | UInt64(networkTTL ?? 0) << 16
    l3 |= UInt64(arpOperation?.rawValue ?? 0) << 24 | presence << 40
    hasher.combine(l3)
    var l4 = UInt64(transportSource ?? 0) << 48 | UInt64(transportDestination ?? 0) << 32
    l4 |= UInt64(icmpEchoID ?? 0) << 16 | UInt64(tcpFlags?.rawValue ?? 0)
    hasher.combine(l4)
    if arpOperation != nil {
      hasher.combine(arpSenderHardwareAddress?.rawValue ?? 0)
      hasher.combine(arpTargetHardwareAddress?.rawValue ?? 0)
      hasher.combine(
        UInt64(arpSenderProtocolAddress?.rawValue ?? 0) << 32
          | UInt64(arpTargetProtocolAddress?.rawValue ?? 0))
    }
  }

  /// True when the IPv4 fields are present.
  public var hasNetworkLayer: Bool { networkSource != nil }
  /// True when the transport fields are present.
  public var hasTransportLayer: Bool { transportSource != nil }
  /// True when the ARP fields are present.
  public var hasARP: Bool { arpOperation != nil }
}
