/// A failure a command reports as one clear line, without usage text: the command line
/// was right, something it met was not (an unreachable ZooKeeper, a file that does not
/// parse, a missing privilege). `midgectl` and `midge-bench` both throw it; the
/// argument parser prints `Error: <message>` and exits 1.
public struct CommandError: Error, CustomStringConvertible {
  /// What kind of failure, for callers that react to some of them.
  public enum Code: Sendable, Hashable {
    /// The command could not do what it was asked (the default).
    case failed
    /// An input the parser accepted but the command cannot use (an address, a file).
    case invalidInput
    /// ZooKeeper (or another peer) could not be reached.
    case unreachable
    /// The command needs a privilege it does not have (root, for veths).
    case notPermitted
  }

  public var code: Code
  public var message: String
  /// The error that led to this one, if any.
  public var cause: (any Error)?

  public init(_ message: String, code: Code = .failed, cause: (any Error)? = nil) {
    self.code = code
    self.message = message
    self.cause = cause
  }

  public var description: String { message }
}
