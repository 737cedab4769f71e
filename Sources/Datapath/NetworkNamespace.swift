import CDatapath
import Glibc

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
    let original = open("/proc/thread-self/ns/net", O_RDONLY)
    guard original >= 0 else {
      throw DatapathError(
        .namespace, "open own namespace", cause: SystemError(call: "open", errno: errno))
    }
    defer { close(original) }
    let target = open("/run/netns/\(name)", O_RDONLY)
    guard target >= 0 else {
      throw DatapathError(
        .namespace, "open namespace \(name)", cause: SystemError(call: "open", errno: errno))
    }
    defer { close(target) }
    guard midge_dp_setns_net(target) == 0 else {
      throw DatapathError(
        .namespace, "enter namespace \(name)", cause: SystemError(call: "setns", errno: errno))
    }
    defer {
      let restored = midge_dp_setns_net(original)
      precondition(restored == 0, "could not return to the original network namespace")
    }
    return try body()
  }
}
