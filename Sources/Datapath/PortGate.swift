import Synchronization

/// Whether a local port may carry frames right now: a deadline on `DatapathClock`,
/// read by every packet loop before it sends to the port or takes frames from it.
///
/// A gateway port must never be served by two hosts at once. The agent that holds one
/// keeps its gate open only up to the end of a lease it renews through ZooKeeper, and
/// the deadline is enforced here, in the threads that move the frames, rather than by
/// the agent closing the gate in time: an agent frozen by SIGSTOP (or descheduled on a
/// loaded host) cannot close anything, but the moment its packet loops run again they
/// compare the deadline with the clock and stay silent, before the agent has noticed
/// that it was gone.
public final class PortGate: Sendable {
  /// Open with no deadline: an ordinary port.
  public static let always: UInt64 = .max
  /// Closed.
  public static let closed: UInt64 = 0

  private let deadline: Atomic<UInt64>

  init(_ deadline: UInt64 = PortGate.always) {
    self.deadline = Atomic(deadline)
  }

  /// Opens the gate until `deadline` (DatapathClock nanoseconds), `always`, or `closed`.
  func set(_ deadline: UInt64) {
    self.deadline.store(deadline, ordering: .releasing)
  }

  /// The deadline now.
  var current: UInt64 { deadline.load(ordering: .acquiring) }

  /// Whether frames may pass: one atomic load, and a clock read only for a deadline.
  var isOpen: Bool {
    let deadline = deadline.load(ordering: .acquiring)
    if deadline == PortGate.always { return true }
    if deadline == PortGate.closed { return false }
    return DatapathClock.now() < deadline
  }
}
