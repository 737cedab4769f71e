/// The counters of one flow. Times are the datapath clock's nanoseconds (see
/// `DatapathClock`), or whatever clock the table's caller passes in tests.
public struct FlowStats: Hashable, Sendable {
  /// Packets that hit the flow.
  public var packets: UInt64
  /// Bytes of those packets (whole frames).
  public var bytes: UInt64
  /// When the flow was installed.
  public var installedAt: UInt64
  /// When it last matched a packet (its install time until then).
  public var lastUsed: UInt64

  /// Creates counters.
  public init(packets: UInt64 = 0, bytes: UInt64 = 0, installedAt: UInt64, lastUsed: UInt64) {
    self.packets = packets
    self.bytes = bytes
    self.installedAt = installedAt
    self.lastUsed = lastUsed
  }
}

/// One flow as the control API shows it: what was installed and what it has counted.
public struct FlowSnapshot: Hashable, Sendable {
  /// The installed entry.
  public var entry: FlowEntry
  /// Its counters.
  public var stats: FlowStats

  /// Creates a snapshot.
  public init(entry: FlowEntry, stats: FlowStats) {
    self.entry = entry
    self.stats = stats
  }
}

/// A flow that left the table, and why.
public struct RemovedFlow: Hashable, Sendable {
  /// Why a flow left the table.
  public enum Reason: Hashable, Sendable {
    /// `remove(_:)` named it.
    case removed
    /// One of its tags was invalidated.
    case tagInvalidated
    /// No packet within its idle timeout.
    case idleTimeout
    /// Its hard timeout passed.
    case hardTimeout
    /// The table was full and it was the least recently used.
    case evicted
  }

  /// The flow as it was when removed.
  public var snapshot: FlowSnapshot
  /// Why.
  public var reason: Reason

  /// Creates a record.
  public init(snapshot: FlowSnapshot, reason: Reason) {
    self.snapshot = snapshot
    self.reason = reason
  }
}
