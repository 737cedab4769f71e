import CDatapath
import Glibc

/// Namespaces, the clock and threads: the calls around the packet loops rather than in
/// them.
extension Syscall {
  /// open(2) of `path` read-only; returns the descriptor.
  static func openReadOnly(_ path: String) throws(SystemCallError) -> Int32 {
    try retryingOnInterrupt("open") { Glibc.open(path, O_RDONLY) }
  }

  /// setns(2) into the network namespace `descriptor` refers to, for the calling thread.
  static func enterNetworkNamespace(_ descriptor: Int32) throws(SystemCallError) {
    _ = try retryingOnInterrupt("setns") { midge_dp_setns_net(descriptor) }
  }

  /// clock_gettime(CLOCK_MONOTONIC) in nanoseconds. It cannot fail with a valid clock
  /// and pointer, so a failure is a bug and stops the process rather than returning a
  /// time the flow table would trust.
  @inline(__always)
  static func monotonicNanoseconds() -> UInt64 {
    var time = timespec()
    let result = clock_gettime(CLOCK_MONOTONIC, &time)
    precondition(result == 0, "clock_gettime(CLOCK_MONOTONIC) failed")
    return UInt64(time.tv_sec) &* 1_000_000_000 &+ UInt64(time.tv_nsec)
  }

  /// pthread_create(3) running `start(context)`; returns the thread. pthread calls return
  /// the error number instead of setting errno.
  static func startThread(
    context: UnsafeMutableRawPointer,
    _ start: @convention(c) (UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer?
  ) throws(SystemCallError) -> pthread_t {
    var thread = pthread_t()
    let result = pthread_create(&thread, nil, start, context)
    guard result == 0 else { throw SystemCallError(call: "pthread_create", errno: result) }
    return thread
  }

  /// pthread_join(3): waits for `thread` to end.
  static func joinThread(_ thread: pthread_t) throws(SystemCallError) {
    let result = pthread_join(thread, nil)
    guard result == 0 else { throw SystemCallError(call: "pthread_join", errno: result) }
  }
}
