import Packets

/// What the agent installs: a match, the actions for its packets, the tags it depends on
/// and its timeouts.
public struct FlowEntry: Hashable, Sendable {
  /// The exact match; its ingress port decides which packet loop serves the flow.
  public var match: FlowMatch
  /// The actions, run in order on each packet.
  public var actions: [DatapathAction]
  /// The tags under which the flow is indexed for invalidation.
  public var tags: [FlowTagHash]
  /// Remove the flow after this long without a packet; nil for never.
  public var idleTimeout: Duration?
  /// Remove the flow this long after it was installed, used or not; nil for never.
  public var hardTimeout: Duration?

  /// Creates an entry.
  public init(
    match: FlowMatch, actions: [DatapathAction], tags: [FlowTagHash] = [],
    idleTimeout: Duration? = nil,
    hardTimeout: Duration? = nil
  ) {
    self.match = match
    self.actions = actions
    self.tags = tags
    self.idleTimeout = idleTimeout
    self.hardTimeout = hardTimeout
  }
}

extension Duration {
  /// The duration in whole nanoseconds, clamped to 1...UInt64.max (a zero or negative
  /// timeout would expire at once, which no caller means).
  var clampedNanoseconds: UInt64 {
    let (seconds, attoseconds) = components
    guard seconds >= 0 else { return 1 }
    let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
    guard !overflow else { return .max }
    return max(1, whole &+ UInt64(max(0, attoseconds) / 1_000_000_000))
  }
}
