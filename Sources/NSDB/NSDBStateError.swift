import ZooKeeper

/// The errors of the runtime-state helpers (state tables, liveness and port
/// keys, leader election). Kept apart from the store's `NSDBError` because
/// runtime state has different failure modes: ephemeral nodes held by another
/// session, names that do not parse, elections that were left.
public struct NSDBStateError: Error, CustomStringConvertible, Sendable {
  public enum Code: Sendable, Hashable {
    /// A key or value cannot be stored (e.g. an interface name with a newline).
    case invalidArgument
    /// An ephemeral node is held by another live session (another host serves
    /// the port, or a previous incarnation of this host is not yet expired).
    case heldByAnotherSession
    /// Stored bytes or a node name could not be decoded.
    case corrupt
    /// The write may or may not have been applied (connection lost): re-read.
    case outcomeUnknown
    /// The client was closed, or the election was left.
    case closed
    /// Any other ZooKeeper failure.
    case zookeeper
  }

  public var code: Code
  public var message: String
  public var cause: (any Error)?

  public init(_ code: Code, _ message: String, cause: (any Error)? = nil) {
    self.code = code
    self.message = message
    self.cause = cause
  }

  public var description: String {
    var text = "NSDB state: \(message)"
    if let cause { text += ": \(cause)" }
    return text
  }

  /// Wraps an error met while doing `what`, keeping the ZooKeeper cause.
  static func wrap(_ error: any Error, _ what: String) -> NSDBStateError {
    if let error = error as? NSDBStateError { return error }
    guard let zk = error as? ZooKeeperError else {
      return NSDBStateError(.zookeeper, what, cause: error)
    }
    switch zk.code {
    case .outcomeUnknown:
      return NSDBStateError(.outcomeUnknown, "\(what): outcome unknown, re-read", cause: zk)
    case .closed:
      return NSDBStateError(.closed, what, cause: zk)
    default:
      return NSDBStateError(.zookeeper, what, cause: zk)
    }
  }
}
