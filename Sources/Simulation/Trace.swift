import Topology

/// One line of a simulation trace: which object acted and what it did.
///
/// Traces are for people (`midgectl trace`, debugging a policy), so each step
/// carries a ready-made sentence; the structured parts (`kind`, `object`) let
/// a tool filter or colour them. Building the text costs allocations, so the
/// simulator only does it when asked (`trace: true`).
public struct TraceStep: Hashable, Sendable, CustomStringConvertible {
  /// The kind of object or event.
  public enum Kind: String, Hashable, Sendable {
    case port
    case bridge
    case router
    case chain
    case rule
    case conntrack
    case nat
    case route
    case arp
    case decision
  }

  public var kind: Kind
  /// The object the step is about, if any.
  public var object: ID?
  /// What happened, in words.
  public var detail: String

  public init(kind: Kind, object: ID?, detail: String) {
    self.kind = kind
    self.object = object
    self.detail = detail
  }

  public var description: String {
    if let object { return "\(kind.rawValue) \(object): \(detail)" }
    return "\(kind.rawValue): \(detail)"
  }
}

extension [TraceStep] {
  /// The trace as numbered lines, one step per line.
  public var formatted: String {
    enumerated().map { "\($0.offset + 1). \($0.element)" }.joined(separator: "\n")
  }
}
