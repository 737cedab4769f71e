/// Running code inside a named network namespace (`ip netns add NAME`), for tests and
/// benchmarks that need a socket in a "VM" namespace.
///
/// Network namespaces are per thread: `withNamespace` moves the calling thread into the
/// namespace, runs `body` synchronously, and moves it back. Sockets made inside stay in
/// the namespace after the thread returns. `body` must not suspend.
public enum NetworkNamespace {
  /// Runs `body` with the calling thread in namespace `name`.
  public static func withNamespace<R>(
    _ name: String, _ body: () throws -> R
  ) throws -> R {
    let original = try open("/proc/thread-self/ns/net", "open own namespace")
    defer { Syscall.closeOwned(original) }
    let target = try open("/run/netns/\(name)", "open namespace \(name)")
    defer { Syscall.closeOwned(target) }
    do throws(SystemCallError) {
      try Syscall.enterNetworkNamespace(target)
    } catch {
      throw DatapathError(.namespace, "enter namespace \(name)", cause: error)
    }
    defer {
      do throws(SystemCallError) {
        try Syscall.enterNetworkNamespace(original)
      } catch {
        // A thread left in the wrong namespace would make every later socket there.
        preconditionFailure("could not return to the original network namespace: \(error)")
      }
    }
    return try body()
  }

  private static func open(_ path: String, _ doing: String) throws(DatapathError) -> Int32 {
    do throws(SystemCallError) {
      return try Syscall.openReadOnly(path)
    } catch {
      throw DatapathError(.namespace, doing, cause: error)
    }
  }
}
