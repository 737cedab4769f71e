import Addresses
import Packets
import Topology

/// DNAT, SNAT and their reversal on replies.
///
/// A NAT rule first looks for an existing forward binding for the packet's
/// tuple on this device (a later packet of a connection whose flow expired);
/// otherwise it allocates one. Allocation is deterministic, without IO or
/// randomness: the candidates are every (address, port) of the rule's targets
/// in order, the search starts at the flow hash modulo their number and
/// probes forward, skipping candidates whose reverse entry is already taken
/// by another connection in the view. The chosen binding is a state change —
/// forward entry plus the reverse entry that undoes it on replies — and the
/// rule accepts. Reverse rules look the reply's tuple up in the reverse
/// entries; with no binding they do nothing and evaluation continues.
///
/// A target with ports `0...0` keeps the packet's port (address-only NAT, the
/// floating-IP pattern). For ICMP echo the identifier plays the port, and
/// only source NAT changes it.
extension Simulator {
  /// Applies a DNAT or SNAT rule; nil when it does not apply (not IPv4).
  func translate(
    _ kind: NATKey.Kind, targets: [NatTarget], chain: ID, rule: ID, at point: ChainPoint,
    _ view: SimulationView, _ context: inout SimulationContext
  ) -> ChainVerdict? {
    guard let tuple = FlowTuple(context.match) else { return nil }
    let forwardKey = NATKey(kind: kind, device: point.device, tuple: tuple)
    if let existing = view.nat[forwardKey] {
      context.tag(.nat(forwardKey))
      apply(kind, existing, &context)
      context.note(.nat, point.device, "\(kind) to \(existing) (existing binding)")
      return .accept
    }
    let isSource = kind == .forwardSNAT
    let original =
      isSource
      ? NATTranslation(address: tuple.source, port: tuple.sourcePort)
      : NATTranslation(address: tuple.destination, port: tuple.destinationPort)
    let proto = tuple.ipProtocol
    let portsApply =
      proto == IPProtocol.tcp.rawValue || proto == IPProtocol.udp.rawValue
      || (isSource && proto == IPProtocol.icmp.rawValue && context.match.icmpEchoID != nil)

    let segments = Self.segments(
      targets, portsApply: portsApply, leases: isSource ? view.natLeases : nil)
    var total: UInt64 = 0
    for segment in segments { total += segment.count }
    guard total > 0 else {
      context.note(.nat, point.device, "\(kind): no port block leased for the targets yet")
      return .natExhausted(chain: chain, rule: rule)
    }
    let leased = isSource && view.natLeases != nil && segments.count > 1
    let start = context.flowHash % total
    let probes = min(total, UInt64(max(1, configuration.maxNATProbes)))
    for probe in 0..<probes {
      // Leased blocks are probed across blocks, one port of each in turn: probing along
      // the list would walk through every full block before reaching a new, empty one.
      let candidate =
        leased
        ? Self.candidate(
          interleaving: context.flowHash &+ probe, of: segments, keeping: original.port)
        : Self.candidate(at: (start + probe) % total, of: segments, keeping: original.port)
      var translated = tuple
      if isSource {
        translated.source = candidate.address
        translated.sourcePort = candidate.port
        if proto == IPProtocol.icmp.rawValue { translated.destinationPort = candidate.port }
      } else {
        translated.destination = candidate.address
        translated.destinationPort = candidate.port
      }
      let reverseKind: NATKey.Kind = isSource ? .reverseSNAT : .reverseDNAT
      let reverseKey = NATKey(kind: reverseKind, device: point.device, tuple: translated.reversed)
      if let taken = view.nat[reverseKey], taken != original { continue }
      let binding = NATBinding(
        forwardKey: forwardKey, forward: candidate, reverseKey: reverseKey, reverse: original)
      context.change(.natBinding(binding))
      context.tag(.nat(forwardKey))
      apply(kind, candidate, &context)
      context.note(.nat, point.device, "\(kind) \(tuple) to \(candidate) (new binding)")
      return .accept
    }
    context.note(.nat, point.device, "\(kind): every candidate is taken")
    return .natExhausted(chain: chain, rule: rule)
  }

  /// Applies a reverse NAT rule; false when the view has no binding.
  func untranslate(
    _ kind: NATKey.Kind, at point: ChainPoint, _ view: SimulationView,
    _ context: inout SimulationContext
  ) -> Bool {
    let key = FlowTuple(context.match).map { NATKey(kind: kind, device: point.device, tuple: $0) }
    guard let key, let translation = view.nat[key] else { return false }
    context.tag(.nat(key))
    apply(kind, translation, &context)
    context.note(.nat, point.device, "\(kind) to \(translation)")
    return true
  }

  /// Rewrites the packet as the translation says.
  private func apply(
    _ kind: NATKey.Kind, _ translation: NATTranslation, _ context: inout SimulationContext
  ) {
    let isICMP = context.match.networkProtocol == .icmp
    switch kind {
    case .forwardSNAT:
      context.match.networkSource = translation.address
      if isICMP {
        if context.match.icmpEchoID != nil { context.match.icmpEchoID = translation.port }
      } else if context.match.transportSource != nil {
        context.match.transportSource = translation.port
      }
    case .reverseSNAT:
      context.match.networkDestination = translation.address
      if isICMP {
        if context.match.icmpEchoID != nil { context.match.icmpEchoID = translation.port }
      } else if context.match.transportDestination != nil {
        context.match.transportDestination = translation.port
      }
    case .forwardDNAT:
      context.match.networkDestination = translation.address
      if !isICMP && context.match.transportDestination != nil {
        context.match.transportDestination = translation.port
      }
    case .reverseDNAT:
      context.match.networkSource = translation.address
      if !isICMP && context.match.transportSource != nil {
        context.match.transportSource = translation.port
      }
    }
  }

  /// A run of candidates: every address of a range, each with the same ports.
  struct Segment {
    var addressFrom: UInt32
    var addressTo: UInt32
    var portFrom: UInt16
    var portTo: UInt16
    /// The packet keeps its port (address-only NAT, or a protocol without ports).
    var keepsPort: Bool

    var ports: UInt64 { keepsPort ? 1 : UInt64(portTo - portFrom) + 1 }
    var count: UInt64 { UInt64(addressTo - addressFrom + 1) * ports }
  }

  /// The candidates of `targets`, in order. With `leases`, a target that translates
  /// ports offers only the ports of the blocks this host holds for its addresses
  /// (ascending by address, then block); other targets offer all they have.
  static func segments(
    _ targets: [NatTarget], portsApply: Bool, leases: [IPv4Address: [UInt16]]?
  ) -> [Segment] {
    var segments: [Segment] = []
    for target in targets where target.isWellFormed {
      let keepsPort = !portsApply || (target.portFrom == 0 && target.portTo == 0)
      guard !keepsPort, let leases else {
        segments.append(
          Segment(
            addressFrom: target.addressFrom.rawValue, addressTo: target.addressTo.rawValue,
            portFrom: target.portFrom, portTo: target.portTo, keepsPort: keepsPort))
        continue
      }
      let range = target.addressFrom.rawValue...target.addressTo.rawValue
      for address in leases.keys.filter({ range.contains($0.rawValue) }).sorted() {
        for index in leases[address] ?? [] {
          let block = NATBlock(address: address, index: index).ports
          let low = max(block.lowerBound, target.portFrom)
          let high = min(block.upperBound, target.portTo)
          guard low <= high else { continue }
          segments.append(
            Segment(
              addressFrom: address.rawValue, addressTo: address.rawValue, portFrom: low,
              portTo: high, keepsPort: false))
        }
      }
    }
    return segments
  }

  /// The candidate for probe `index` when probing across segments: segment
  /// `index mod count`, and within it the port `index / count` (wrapping), so that
  /// consecutive probes visit every segment before any twice.
  static func candidate(interleaving index: UInt64, of segments: [Segment], keeping port: UInt16)
    -> NATTranslation
  {
    let count = UInt64(segments.count)
    let segment = segments[Int(index % count)]
    let offset = (index / count) % segment.count
    let address = IPv4Address(
      rawValue: segment.addressFrom &+ UInt32(truncatingIfNeeded: offset / segment.ports))
    let chosen =
      segment.keepsPort
      ? port : segment.portFrom &+ UInt16(truncatingIfNeeded: offset % segment.ports)
    return NATTranslation(address: address, port: chosen)
  }

  /// The `index`th candidate over `segments`, in order.
  static func candidate(at index: UInt64, of segments: [Segment], keeping port: UInt16)
    -> NATTranslation
  {
    var index = index
    for segment in segments {
      guard index >= segment.count else {
        let address = IPv4Address(
          rawValue: segment.addressFrom &+ UInt32(truncatingIfNeeded: index / segment.ports))
        let chosen =
          segment.keepsPort
          ? port : segment.portFrom &+ UInt16(truncatingIfNeeded: index % segment.ports)
        return NATTranslation(address: address, port: chosen)
      }
      index -= segment.count
    }
    return NATTranslation(address: .any, port: port)
  }
}
