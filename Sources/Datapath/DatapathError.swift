/// The errors of the Datapath module: what failed, on which interface or socket, and the
/// system error underneath.
public struct DatapathError: Error, CustomStringConvertible, Sendable {
  /// What went wrong.
  public enum Code: Hashable, Sendable {
    /// No interface has that name.
    case interfaceNotFound
    /// The interface exists but is not up.
    case interfaceDown
    /// The port number is already attached.
    case portInUse
    /// The port number is not attached.
    case unknownPort
    /// A socket could not be opened, configured or bound.
    case socket
    /// The datapath has been stopped.
    case stopped
    /// Entering a network namespace failed.
    case namespace
    /// The system would not give the datapath a thread or a descriptor it needs.
    case resources
  }

  /// The machine-readable reason.
  public var code: Code
  /// What was being done, and to what.
  public var message: String
  /// The underlying error (usually a `SystemCallError`).
  public var cause: (any Error & Sendable)?

  /// Creates an error.
  public init(_ code: Code, _ message: String, cause: (any Error & Sendable)? = nil) {
    self.code = code
    self.message = message
    self.cause = cause
  }

  public var description: String {
    var text = "Datapath: \(message)"
    if let cause { text += ": \(cause)" }
    return text
  }
}
