#if canImport(Glibc)
  import Glibc
#endif

/// An errno value with its text, used as the `cause` of errors from C calls.
public struct SystemError: Error, CustomStringConvertible, Sendable {
  public var errno: Int32

  public init(errno: Int32) { self.errno = errno }

  /// The calling thread's current errno.
  public static func current() -> SystemError { SystemError(errno: Glibc.errno) }

  public var description: String {
    guard let text = strerror(errno) else { return "errno \(errno)" }
    return "\(String(cString: text)) (errno \(errno))"
  }
}
