/// What a rule does with a packet its condition matches.
///
/// An enum with payloads because the payload is what distinguishes the
/// actions (a jump target, a NAT pool); a codec maps it to a `oneof`.
public enum RuleAction: Hashable, Sendable, Codable {
  /// Stop evaluating; the packet continues through the device.
  case accept
  /// Stop evaluating; discard the packet silently.
  case drop
  /// Stop evaluating; discard the packet and answer with an ICMP error
  /// (TCP RST for TCP).
  case reject
  /// Evaluate the target chain; if it ends without a decision (or with
  /// RETURN), resume after this rule.
  case jump(chainId: ID)
  /// Leave the current chain; in a jumped-to chain, resume in the caller.
  case `return`
  /// Go on with the next rule (useful for rules that only trace or count).
  case `continue`
  /// Translate the destination to one of `targets`, record the binding,
  /// then accept.
  case dnat(targets: [NatTarget])
  /// Translate the source to one of `targets`, record the binding, then accept.
  case snat(targets: [NatTarget])
  /// Undo a recorded DNAT on a return packet (rewrite its source back).
  case reverseDNAT
  /// Undo a recorded SNAT on a return packet (rewrite its destination back).
  case reverseSNAT

  /// Whether the action ends evaluation of the chain on a match.
  public var isTerminal: Bool {
    switch self {
    case .accept, .drop, .reject, .dnat, .snat, .reverseDNAT, .reverseSNAT, .return: return true
    case .jump, .continue: return false
    }
  }
}
