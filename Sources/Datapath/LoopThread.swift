/// A dedicated OS thread for a packet loop: packet loops block in poll(2) and spin on
/// batches, which must not happen on Swift concurrency's cooperative pool.
final class LoopThread: @unchecked Sendable {
  /// The `pthread_t` (an integer on Linux); set once the thread is started.
  private var thread: UInt = 0
  private let body: @Sendable () -> Void

  /// Starts a thread running `body`; throws when the system will not make one.
  init(_ body: @escaping @Sendable () -> Void) throws(SystemCallError) {
    self.body = body
    let context = Unmanaged.passRetained(self)
    do throws(SystemCallError) {
      thread = try Syscall.startThread(context: context.toOpaque()) { context in
        guard let context else { return nil }
        let loopThread = Unmanaged<LoopThread>.fromOpaque(context).takeRetainedValue()
        loopThread.body()
        return nil
      }
    } catch {
      // The thread never ran, so the reference it would have taken is still ours.
      context.release()
      throw error
    }
  }

  /// Waits for the thread to finish.
  func join() {
    do throws(SystemCallError) {
      try Syscall.joinThread(thread)
    } catch {
      // Only a bug gives one: joining twice, or from the thread itself.
      assertionFailure("joining a packet loop thread: \(error)")
    }
  }
}
