import Synchronization

/// One packet loop's counters, added to once per batch and readable from any thread.
public final class PortCounters: Sendable {
  /// A point-in-time copy.
  public struct Snapshot: Hashable, Sendable {
    /// Frames received.
    public var received: UInt64
    /// Frames that hit a flow.
    public var hits: UInt64
    /// Frames that missed (parked or handed to the miss handler).
    public var misses: UInt64
    /// Frames sent by this loop (to any port or the tunnel).
    public var transmitted: UInt64
    /// Frames dropped: drop actions, TTL, unparseable, refused sends, parking overflow.
    public var dropped: UInt64
    /// Flows in the loop's table (a gauge, updated after every batch of commands and
    /// every expiry pass).
    public var flows: Int = 0
    /// Tunnel datagrams refused because they came from no known peer's endpoint.
    public var unknownSource: UInt64 = 0
  }

  let received = Atomic<UInt64>(0)
  let hits = Atomic<UInt64>(0)
  let misses = Atomic<UInt64>(0)
  let transmitted = Atomic<UInt64>(0)
  let dropped = Atomic<UInt64>(0)
  let flows = Atomic<Int>(0)
  let unknownSource = Atomic<UInt64>(0)

  /// The counters now.
  public var snapshot: Snapshot {
    Snapshot(
      received: received.load(ordering: .relaxed), hits: hits.load(ordering: .relaxed),
      misses: misses.load(ordering: .relaxed), transmitted: transmitted.load(ordering: .relaxed),
      dropped: dropped.load(ordering: .relaxed), flows: flows.load(ordering: .relaxed),
      unknownSource: unknownSource.load(ordering: .relaxed))
  }
}
