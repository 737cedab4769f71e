import Addresses

/// What a rule matches: a conjunction of optional tests on the packet, the
/// ports it crosses and its connection-tracking state.
///
/// Every test is "unset" by default — an empty id list, a nil value — and an
/// unset test matches everything. Each test has its own `inv…` flag that
/// negates that test alone. See `Condition+Matching.swift` for the exact
/// semantics, including what happens when the packet lacks the field.
///
/// All fields are plain values so the later protobuf codec maps them 1:1;
/// the id lists are arrays (protobuf `repeated`) used with set semantics.
public struct Condition: Hashable, Sendable, Codable {
  /// Ingress port must be one of these; empty = any.
  public var inPortIds: [ID]
  public var invInPorts: Bool
  /// Egress port must be one of these; empty = any. Only known once the
  /// device has decided where the packet goes (outbound filters, post-routing).
  public var outPortIds: [ID]
  public var invOutPorts: Bool
  /// Ingress port must be a member of this port group.
  public var portGroupId: ID?
  public var invPortGroup: Bool

  /// Ethernet source, compared under `dlSrcMask`.
  public var dlSrc: MACAddress?
  /// Bits of `dlSrc` that are compared; all ones (the default) compares the
  /// whole address, `01:00:00:00:00:00` only the multicast bit.
  public var dlSrcMask: MACAddress
  public var invDlSrc: Bool
  /// Ethernet destination, compared under `dlDstMask`.
  public var dlDst: MACAddress?
  public var dlDstMask: MACAddress
  public var invDlDst: Bool
  /// EtherType (0x0800 IPv4, 0x0806 ARP, ...).
  public var dlType: UInt16?
  public var invDlType: Bool

  /// IPv4 source must lie in this prefix.
  public var nwSrc: IPv4Prefix?
  public var invNwSrc: Bool
  /// IPv4 destination must lie in this prefix.
  public var nwDst: IPv4Prefix?
  public var invNwDst: Bool
  /// IP protocol number (1 ICMP, 6 TCP, 17 UDP, ...).
  public var nwProto: UInt8?
  public var invNwProto: Bool
  /// The whole IPv4 TOS byte (DSCP and ECN), compared exactly.
  public var nwTos: UInt8?
  public var invNwTos: Bool

  /// L4 source port must lie in this closed range.
  public var tpSrc: ClosedRange<UInt16>?
  public var invTpSrc: Bool
  /// L4 destination port must lie in this closed range.
  public var tpDst: ClosedRange<UInt16>?
  public var invTpDst: Bool

  /// IPv4 source must be a member of this address group.
  public var ipAddrGroupIdSrc: ID?
  public var invIpAddrGroupIdSrc: Bool
  /// IPv4 destination must be a member of this address group.
  public var ipAddrGroupIdDst: ID?
  public var invIpAddrGroupIdDst: Bool

  /// Match only packets of a flow's forward direction (the direction that
  /// created the connection-tracking entry).
  public var matchForwardFlow: Bool
  /// Match only packets of a known connection's return direction — the basis
  /// of "allow replies" stateful firewalls.
  public var matchReturnFlow: Bool

  /// Which fragments the condition is about.
  public var fragmentPolicy: FragmentPolicy

  /// A condition with the given tests set; every omitted test is unset.
  public init(
    inPortIds: [ID] = [], invInPorts: Bool = false,
    outPortIds: [ID] = [], invOutPorts: Bool = false,
    portGroupId: ID? = nil, invPortGroup: Bool = false,
    dlSrc: MACAddress? = nil, dlSrcMask: MACAddress = .broadcast, invDlSrc: Bool = false,
    dlDst: MACAddress? = nil, dlDstMask: MACAddress = .broadcast, invDlDst: Bool = false,
    dlType: UInt16? = nil, invDlType: Bool = false,
    nwSrc: IPv4Prefix? = nil, invNwSrc: Bool = false,
    nwDst: IPv4Prefix? = nil, invNwDst: Bool = false,
    nwProto: UInt8? = nil, invNwProto: Bool = false,
    nwTos: UInt8? = nil, invNwTos: Bool = false,
    tpSrc: ClosedRange<UInt16>? = nil, invTpSrc: Bool = false,
    tpDst: ClosedRange<UInt16>? = nil, invTpDst: Bool = false,
    ipAddrGroupIdSrc: ID? = nil, invIpAddrGroupIdSrc: Bool = false,
    ipAddrGroupIdDst: ID? = nil, invIpAddrGroupIdDst: Bool = false,
    matchForwardFlow: Bool = false, matchReturnFlow: Bool = false,
    fragmentPolicy: FragmentPolicy = .any
  ) {
    self.inPortIds = inPortIds
    self.invInPorts = invInPorts
    self.outPortIds = outPortIds
    self.invOutPorts = invOutPorts
    self.portGroupId = portGroupId
    self.invPortGroup = invPortGroup
    self.dlSrc = dlSrc
    self.dlSrcMask = dlSrcMask
    self.invDlSrc = invDlSrc
    self.dlDst = dlDst
    self.dlDstMask = dlDstMask
    self.invDlDst = invDlDst
    self.dlType = dlType
    self.invDlType = invDlType
    self.nwSrc = nwSrc
    self.invNwSrc = invNwSrc
    self.nwDst = nwDst
    self.invNwDst = invNwDst
    self.nwProto = nwProto
    self.invNwProto = invNwProto
    self.nwTos = nwTos
    self.invNwTos = invNwTos
    self.tpSrc = tpSrc
    self.invTpSrc = invTpSrc
    self.tpDst = tpDst
    self.invTpDst = invTpDst
    self.ipAddrGroupIdSrc = ipAddrGroupIdSrc
    self.invIpAddrGroupIdSrc = invIpAddrGroupIdSrc
    self.ipAddrGroupIdDst = ipAddrGroupIdDst
    self.invIpAddrGroupIdDst = invIpAddrGroupIdDst
    self.matchForwardFlow = matchForwardFlow
    self.matchReturnFlow = matchReturnFlow
    self.fragmentPolicy = fragmentPolicy
  }

  /// The condition that matches every packet.
  public static let any = Condition()
}
