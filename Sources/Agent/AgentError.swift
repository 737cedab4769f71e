/// Why the agent could not do something: a code to branch on, a message that names what to
/// fix, and the underlying error when there is one.
public struct AgentError: Error, CustomStringConvertible, Sendable {
  /// What failed.
  public enum Code: String, Sendable, Hashable {
    /// The configuration file or a flag is wrong.
    case configuration
    /// ZooKeeper could not be reached or refused a request.
    case zookeeper
    /// The host could not be registered (its id is held by another live agent, say).
    case registration
    /// The datapath could not start (tunnel port in use, no privileges).
    case datapath
    /// The control API could not listen.
    case control
  }

  public var code: Code
  public var message: String
  public var cause: (any Error & Sendable)?

  public init(_ code: Code, _ message: String, cause: (any Error & Sendable)? = nil) {
    self.code = code
    self.message = message
    self.cause = cause
  }

  /// A cause that is not `Sendable` itself, kept as its description.
  public struct Described: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ error: any Error) { description = "\(error)" }
  }

  public var description: String {
    guard let cause else { return "\(code.rawValue): \(message)" }
    return "\(code.rawValue): \(message): \(cause)"
  }
}
