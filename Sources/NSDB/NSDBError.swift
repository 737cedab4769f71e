import ZooKeeper

/// The errors of the NSDB store: each names the object and what to fix.
public struct NSDBError: Error, CustomStringConvertible, Sendable {
  public enum Code: Sendable, Hashable {
    case notFound
    case alreadyExists
    /// Another writer changed what this transaction read; retries ran out.
    case conflict
    /// A reference names an object that does not exist.
    case danglingReference
    /// A scalar back-reference already points at another object (a port
    /// cannot be stolen from another device).
    case referenceConflict
    /// A delete refused by an ERROR binding.
    case stillReferenced
    /// The bytes of a stored object could not be decoded.
    case corrupt
    /// The write may or may not have been applied (connection lost).
    case outcomeUnknown
    /// Any other ZooKeeper failure.
    case zookeeper
    /// A malformed argument (an interface name with spaces, say).
    case invalidArgument
    /// An ephemeral state node (a port's `active`, a host's `alive`) is held
    /// by another live session.
    case heldByAnotherSession
    /// The ZooKeeper client was closed.
    case closed
    /// A transaction's request is larger than ZooKeeper accepts in one request
    /// (`jute.maxbuffer`); it was not sent, so nothing was written.
    case tooLarge
    /// The client's identity may not do this (a secured NSDB's ACL refused it).
    case notAuthorised
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
    var text = "NSDB: \(message)"
    if let cause { text += ": \(cause)" }
    return text
  }

  /// A refused request's error: what was refused, and which identity it needs.
  static func notAuthorised(_ error: ZooKeeperError, path: String? = nil, _ what: String)
    -> NSDBError
  {
    guard let path = path ?? error.path else {
      return NSDBError(.notAuthorised, "\(what): not authorised", cause: error)
    }
    let message =
      error.isWrite == false
      ? "not authorised to read \(path): this needs an agent or the admin identity"
      : "not authorised to write \(path): this needs \(NSDBAccess.writer(of: path))"
    return NSDBError(.notAuthorised, "\(message) (\(what))", cause: error)
  }

  /// Wraps an error of the state keys, tables and election: outcome unknown
  /// and closed keep their meaning, everything else is a ZooKeeper failure.
  static func wrap(_ error: any Error, _ what: String) -> NSDBError {
    if let error = error as? NSDBError { return error }
    guard let zk = error as? ZooKeeperError else {
      return NSDBError(.zookeeper, what, cause: error)
    }
    switch zk.code {
    case .noAuth:
      return notAuthorised(zk, what)
    case .outcomeUnknown:
      return NSDBError(.outcomeUnknown, "\(what): outcome unknown, re-read", cause: zk)
    case .closed:
      return NSDBError(.closed, what, cause: zk)
    default:
      return NSDBError(.zookeeper, what, cause: zk)
    }
  }

  /// Maps a ZooKeeper error met while doing `what`.
  static func zookeeper(_ error: any Error, _ what: String) -> NSDBError {
    guard let error = error as? ZooKeeperError else {
      if let error = error as? NSDBError { return error }
      return NSDBError(.zookeeper, what, cause: error)
    }
    switch error.code {
    case .outcomeUnknown:
      return NSDBError(
        .outcomeUnknown, "\(what): outcome unknown, re-read before retrying", cause: error)
    case .badVersion, .nodeExists, .noNode:
      return NSDBError(.conflict, "\(what): a concurrent writer changed the objects", cause: error)
    case .noAuth:
      return notAuthorised(error, what)
    default:
      return NSDBError(.zookeeper, what, cause: error)
    }
  }
}
