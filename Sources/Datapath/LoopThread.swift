import Glibc

/// A dedicated OS thread for a packet loop: packet loops block in poll(2) and spin on
/// batches, which must not happen on Swift concurrency's cooperative pool.
final class LoopThread: @unchecked Sendable {
  private var thread = pthread_t()
  private let body: @Sendable () -> Void

  init(_ body: @escaping @Sendable () -> Void) {
    self.body = body
    let context = Unmanaged.passRetained(self).toOpaque()
    let result = pthread_create(
      &thread, nil,
      { context in
        let loopThread = Unmanaged<LoopThread>.fromOpaque(context!).takeRetainedValue()
        loopThread.body()
        return nil
      }, context)
    precondition(result == 0, "pthread_create failed: \(result)")
  }

  /// Waits for the thread to finish.
  func join() {
    pthread_join(thread, nil)
  }
}
