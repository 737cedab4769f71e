import Addresses

/// Everything `Condition.matches(_:)` may look at, gathered by the simulator
/// for one packet at one rule-chain evaluation point.
///
/// Packet fields are optional: nil means the packet does not have that header
/// field (no IPv4 header on an ARP frame, no L4 ports on ICMP or on a later
/// fragment). That is different from a nil in a `Condition`, which means
/// "don't care"; `Condition+Matching.swift` explains how the two meet.
///
/// Not `Sendable`: it is a short-lived argument that carries a lookup
/// closure, built and consumed inside one simulation step.
public struct MatchContext {
  /// The port the packet entered the current device through.
  public var inPortId: ID?
  /// The port the packet will leave through, once decided.
  public var outPortId: ID?
  /// The port groups the ingress port belongs to.
  public var inPortGroupIds: Set<ID>

  public var dlSrc: MACAddress?
  public var dlDst: MACAddress?
  public var dlType: UInt16?

  public var nwSrc: IPv4Address?
  public var nwDst: IPv4Address?
  public var nwProto: UInt8?
  public var nwTos: UInt8?

  public var tpSrc: UInt16?
  public var tpDst: UInt16?

  public var fragment: FragmentKind
  /// Whether the packet travels in its connection's forward direction (it
  /// is not a reply to a tracked connection). New connections are forward.
  public var isForwardFlow: Bool

  /// Answers "is `address` a member of address group `groupId`?". An
  /// unknown group has no members.
  public var ipAddrGroupContains: (_ groupId: ID, _ address: IPv4Address) -> Bool

  public init(
    inPortId: ID? = nil, outPortId: ID? = nil, inPortGroupIds: Set<ID> = [],
    dlSrc: MACAddress? = nil, dlDst: MACAddress? = nil, dlType: UInt16? = nil,
    nwSrc: IPv4Address? = nil, nwDst: IPv4Address? = nil, nwProto: UInt8? = nil,
    nwTos: UInt8? = nil, tpSrc: UInt16? = nil, tpDst: UInt16? = nil,
    fragment: FragmentKind = .unfragmented, isForwardFlow: Bool = true,
    ipAddrGroupContains: @escaping (_ groupId: ID, _ address: IPv4Address) -> Bool = { _, _ in
      false
    }
  ) {
    self.inPortId = inPortId
    self.outPortId = outPortId
    self.inPortGroupIds = inPortGroupIds
    self.dlSrc = dlSrc
    self.dlDst = dlDst
    self.dlType = dlType
    self.nwSrc = nwSrc
    self.nwDst = nwDst
    self.nwProto = nwProto
    self.nwTos = nwTos
    self.tpSrc = tpSrc
    self.tpDst = tpDst
    self.fragment = fragment
    self.isForwardFlow = isForwardFlow
    self.ipAddrGroupContains = ipAddrGroupContains
  }

  /// Uses a prepared membership table for address-group lookups.
  public mutating func useAddressGroups(_ groups: [ID: Set<IPv4Address>]) {
    ipAddrGroupContains = { groupId, address in groups[groupId]?.contains(address) ?? false }
  }
}
