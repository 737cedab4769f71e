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

    var total: UInt64 = 0
    for target in targets where target.isWellFormed {
      total += Self.candidates(in: target, portsApply: portsApply)
    }
    guard total > 0 else { return .natExhausted(chain: chain, rule: rule) }
    let start = context.flowHash % total
    let probes = min(total, UInt64(max(1, configuration.maxNATProbes)))
    for probe in 0..<probes {
      let candidate = Self.candidate(
        at: (start + probe) % total, of: targets, portsApply: portsApply, keeping: original.port)
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

  /// How many (address, port) pairs a target offers.
  private static func candidates(in target: NatTarget, portsApply: Bool) -> UInt64 {
    let addresses = UInt64(target.addressTo.rawValue - target.addressFrom.rawValue) + 1
    return addresses * ports(of: target, portsApply: portsApply)
  }

  private static func ports(of target: NatTarget, portsApply: Bool) -> UInt64 {
    guard portsApply, target.portFrom != 0 || target.portTo != 0 else { return 1 }
    return UInt64(target.portTo - target.portFrom) + 1
  }

  /// The `index`th candidate over all well-formed targets, in order.
  private static func candidate(
    at index: UInt64, of targets: [NatTarget], portsApply: Bool, keeping port: UInt16
  ) -> NATTranslation {
    var index = index
    for target in targets where target.isWellFormed {
      let count = candidates(in: target, portsApply: portsApply)
      guard index >= count else {
        let ports = Self.ports(of: target, portsApply: portsApply)
        let address = IPv4Address(
          rawValue: target.addressFrom.rawValue &+ UInt32(truncatingIfNeeded: index / ports)
        )
        let keep = !portsApply || (target.portFrom == 0 && target.portTo == 0)
        let chosen = keep ? port : target.portFrom &+ UInt16(truncatingIfNeeded: index % ports)
        return NATTranslation(address: address, port: chosen)
      }
      index -= count
    }
    return NATTranslation(address: .any, port: port)
  }
}
