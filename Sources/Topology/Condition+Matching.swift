import Addresses

// How a rule condition decides whether it matches a packet.
//
// A `Condition` is a conjunction: it matches when every one of its tests
// matches, and a condition with no tests set matches every packet. The tests
// are independent of each other; evaluation order only affects speed, so the
// cheap, usually-decisive ones (connection direction, fragments, ports) come
// first.
//
// Three rules settle every case:
//
// 1. An unset test matches. "Unset" means nil, or an empty id list for the
//    in/out port tests. A test that is unset ignores its invert flag: an
//    inverted "don't care" is still "don't care" (as in MidoNet).
//
// 2. A set test asks a yes/no question about one packet field, and its invert
//    flag negates that answer — that test's answer only, never the whole
//    condition. "Not from 10.0.0.0/8 AND to port 80" is `nwSrc` inverted plus
//    `tpDst` plain.
//
// 3. A set test on a field the packet does not have answers "no" before
//    inversion. An ARP frame has no IPv4 source, so "source in 10.0.0.0/8"
//    is false for it and "source NOT in 10.0.0.0/8" is true. Read the
//    inverted test as "it is not the case that the field is in the set",
//    which is true when there is no field at all. Rules that mean "an IP
//    packet whose source is outside 10/8" say so by also setting `dlType`
//    (and `nwProto` for ports), exactly as with iptables. This is MidoNet's
//    rule for addresses, protocol, TOS and EtherType; MidoNet's L4 port
//    ranges alone treated a missing port as inside every range, which Midge
//    does not copy: one rule for every field is easier to reason about, and
//    `fragmentPolicy` is the explicit way to talk about header-less fragments.
//
// Per test:
//
// - In/out ports: the packet's port is in the list. A packet with no known
//   egress port yet (evaluated before forwarding) is in no list.
// - Port group: the ingress port's groups contain `portGroupId`.
// - dlSrc/dlDst: the packet's MAC equals the condition's MAC in every bit
//   set in the mask. A zero mask makes the test true for any frame.
// - dlType, nwProto, nwTos: exact equality.
// - nwSrc/nwDst: the prefix contains the packet's address (host bits of the
//   condition's prefix are ignored, see `IPv4Prefix`).
// - tpSrc/tpDst: the closed range contains the packet's L4 port.
// - ipAddrGroupIdSrc/Dst: the lookup says the packet's address is a member;
//   an unknown group has no members.
// - matchForwardFlow / matchReturnFlow: not tests with a value but
//   restrictions with no invert flag; each, when true, admits only packets
//   of that direction. Both true admits nothing (`TopologySnapshot.validate()`
//   reports such a rule).
// - fragmentPolicy: always applied, `.any` by default; see `FragmentPolicy`.
//   It constrains the packet, it is not inverted by anything.

extension Condition {
  /// Whether a packet described by `ctx` satisfies every test of this condition.
  public func matches(_ ctx: MatchContext) -> Bool {
    if matchForwardFlow && !ctx.isForwardFlow { return false }
    if matchReturnFlow && ctx.isForwardFlow { return false }
    guard fragmentPolicy.accepts(ctx.fragment) else { return false }

    guard Self.test(ids: inPortIds, has: ctx.inPortId, invert: invInPorts),
      Self.test(ids: outPortIds, has: ctx.outPortId, invert: invOutPorts),
      Self.test(portGroupId, invert: invPortGroup, { ctx.inPortGroupIds.contains($0) })
    else { return false }

    guard Self.test(dlSrc, invert: invDlSrc, { Self.equal(ctx.dlSrc, $0, mask: dlSrcMask) }),
      Self.test(dlDst, invert: invDlDst, { Self.equal(ctx.dlDst, $0, mask: dlDstMask) }),
      Self.test(dlType, invert: invDlType, { ctx.dlType == $0 })
    else { return false }

    guard Self.test(nwSrc, invert: invNwSrc, { ctx.nwSrc.map($0.contains) ?? false }),
      Self.test(nwDst, invert: invNwDst, { ctx.nwDst.map($0.contains) ?? false }),
      Self.test(nwProto, invert: invNwProto, { ctx.nwProto == $0 }),
      Self.test(nwTos, invert: invNwTos, { ctx.nwTos == $0 })
    else { return false }

    guard Self.test(tpSrc, invert: invTpSrc, { ctx.tpSrc.map($0.contains) ?? false }),
      Self.test(tpDst, invert: invTpDst, { ctx.tpDst.map($0.contains) ?? false })
    else { return false }

    return Self.test(
      ipAddrGroupIdSrc, invert: invIpAddrGroupIdSrc,
      { group in ctx.nwSrc.map { ctx.ipAddrGroupContains(group, $0) } ?? false })
      && Self.test(
        ipAddrGroupIdDst, invert: invIpAddrGroupIdDst,
        { group in ctx.nwDst.map { ctx.ipAddrGroupContains(group, $0) } ?? false })
  }

  /// Whether the condition matches every packet: no test is set (invert
  /// flags and masks of unset tests do not count), no flow direction is
  /// required and the fragment policy is `.any`.
  public var isMatchAll: Bool {
    var plain = self
    plain.dlSrcMask = .broadcast
    plain.dlDstMask = .broadcast
    plain.invInPorts = false
    plain.invOutPorts = false
    plain.invPortGroup = false
    plain.invDlSrc = false
    plain.invDlDst = false
    plain.invDlType = false
    plain.invNwSrc = false
    plain.invNwDst = false
    plain.invNwProto = false
    plain.invNwTos = false
    plain.invTpSrc = false
    plain.invTpDst = false
    plain.invIpAddrGroupIdSrc = false
    plain.invIpAddrGroupIdDst = false
    return plain == .any
  }

  /// Rule 1 and 2 for a single-valued test: unset matches, else the
  /// predicate's answer XOR the invert flag.
  private static func test<Value>(
    _ value: Value?, invert: Bool, _ predicate: (Value) -> Bool
  ) -> Bool {
    guard let value else { return true }
    return predicate(value) != invert
  }

  /// Rule 1 and 2 for an id-list test; rule 3 when the packet has no such port.
  private static func test(ids: [ID], has id: ID?, invert: Bool) -> Bool {
    if ids.isEmpty { return true }
    let member = id.map(ids.contains) ?? false
    return member != invert
  }

  /// MAC equality on the mask's bits; rule 3 when the packet has no MAC.
  private static func equal(_ packet: MACAddress?, _ wanted: MACAddress, mask: MACAddress) -> Bool {
    guard let packet else { return false }
    return packet.rawValue & mask.rawValue == wanted.rawValue & mask.rawValue
  }
}
