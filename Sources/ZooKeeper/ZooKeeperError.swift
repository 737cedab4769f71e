/// The one error type of the ZooKeeper module.
///
/// Every return code of the C library is mapped here, once, by
/// ``ZooKeeperError/init(returnCode:path:isWrite:failedOperation:)``. The one
/// judgement call is connection loss: a read that lost its connection simply
/// failed, but a *write* that lost its connection may or may not have been
/// applied by the ensemble, so it is reported as ``Code/outcomeUnknown`` and a
/// caller must re-read before deciding what to do.
public struct ZooKeeperError: Error, CustomStringConvertible, Sendable {
  /// What went wrong, in terms a caller can branch on.
  public enum Code: Sendable, Hashable {
    case noNode
    case nodeExists
    case badVersion
    case notEmpty
    case noChildrenForEphemerals
    /// The connection to the server was lost before a read completed.
    case connectionLoss
    /// The connection was lost during a write: it may or may not have applied.
    case outcomeUnknown
    case sessionExpired
    case sessionMoved
    case operationTimeout
    /// The client was closed by its owner.
    case closed
    case invalidState
    case badArguments
    case noAuth
    case authFailed
    case invalidACL
    case marshallingError
    case unimplemented
    case systemError
    /// In a multi, an operation rolled back because another one failed.
    case rolledBack
    case dataInconsistency
    case notReadOnly
    case ephemeralOnLocalSession
    case noWatcher
    case reconfigDisabled
    case reconfigInProgress
    case newConfigNoQuorum
    case throttled
    case sslConnectionError
    case sessionClosedRequiresSASLAuth
    case invalidCallback
    case apiError
    /// A malformed argument found before anything was sent to the server.
    case invalidArgument
    /// A wait bounded by a timeout ran out.
    case timedOut
    case unknown(Int32)
  }

  public var code: Code
  public var message: String
  /// The node the failed operation addressed, when there is one.
  public var path: String?
  /// For `multi`: the index of the operation that made the transaction fail.
  public var failedOperation: Int?
  /// Whether the failed request was a write (known for the library's return codes).
  public var isWrite: Bool?
  /// The C library's return code, or 0 when the error did not come from it.
  public var returnCode: Int32
  public var cause: (any Error)?

  public init(
    _ code: Code, _ message: String, path: String? = nil, failedOperation: Int? = nil,
    returnCode: Int32 = 0, cause: (any Error)? = nil
  ) {
    self.code = code
    self.message = message
    self.path = path
    self.failedOperation = failedOperation
    self.returnCode = returnCode
    self.cause = cause
  }

  public var description: String {
    var text = "ZooKeeper: \(message)"
    if let path { text += " (path \(path))" }
    if let failedOperation { text += " (operation #\(failedOperation))" }
    if returnCode != 0 { text += " [rc \(returnCode)]" }
    if let cause { text += ": \(cause)" }
    return text
  }

  /// True for errors that only mean "not connected right now": the caller may
  /// wait for the session to come back and retry a read.
  public var isTransient: Bool {
    switch code {
    case .connectionLoss, .operationTimeout, .throttled: return true
    default: return false
    }
  }
}

extension ZooKeeperError {
  /// Maps a C return code. `isWrite` turns connection loss into `.outcomeUnknown`.
  init(returnCode rc: Int32, path: String?, isWrite: Bool, failedOperation: Int? = nil) {
    let (code, text) = Self.describe(rc, isWrite: isWrite)
    self.init(code, text, path: path, failedOperation: failedOperation, returnCode: rc)
    self.isWrite = isWrite
  }

  // swift-format-ignore
  static func describe(_ rc: Int32, isWrite: Bool) -> (Code, String) {
    switch rc {
    case -1: return (.systemError, "system error")
    case -2: return (.rolledBack, "rolled back because another operation of the transaction failed")
    case -3: return (.dataInconsistency, "data inconsistency")
    case -4, -7:
      if isWrite {
        return (.outcomeUnknown, "connection lost during a write: it may or may not have been applied")
      }
      return rc == -4 ? (.connectionLoss, "connection to ZooKeeper lost") : (.operationTimeout, "operation timed out")
    case -5: return (.marshallingError, "marshalling error")
    case -6: return (.unimplemented, "operation not implemented by the server")
    case -8: return (.badArguments, "bad arguments")
    case -9: return (.invalidState, "handle in an invalid state (session expired or closed)")
    case -13: return (.newConfigNoQuorum, "new configuration has no quorum")
    case -14: return (.reconfigInProgress, "reconfiguration in progress")
    case -15: return (.sslConnectionError, "SSL connection error")
    case -100: return (.apiError, "API error")
    case -101: return (.noNode, "node does not exist")
    case -102: return (.noAuth, "not authorised")
    case -103: return (.badVersion, "version conflict: the node changed since it was read")
    case -108: return (.noChildrenForEphemerals, "ephemeral nodes may not have children")
    case -110: return (.nodeExists, "node already exists")
    case -111: return (.notEmpty, "node has children")
    case -112: return (.sessionExpired, "session expired")
    case -113: return (.invalidCallback, "invalid callback")
    case -114: return (.invalidACL, "invalid ACL")
    case -115: return (.authFailed, "authentication failed")
    case -116: return (.closed, "client is closing")
    case -117: return (.unknown(rc), "no server response (ZNOTHING)")
    case -118: return (.sessionMoved, "session moved to another server")
    case -119: return (.notReadOnly, "server is read-only")
    case -120: return (.ephemeralOnLocalSession, "ephemeral node on a local session")
    case -121: return (.noWatcher, "no such watcher")
    case -123: return (.reconfigDisabled, "reconfiguration disabled")
    case -124: return (.sessionClosedRequiresSASLAuth, "session closed: server requires SASL authentication")
    case -127: return (.throttled, "operation throttled by the server: retry")
    default: return (.unknown(rc), "unknown ZooKeeper return code \(rc)")
    }
  }
}
