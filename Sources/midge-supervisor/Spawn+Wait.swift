import Foundation
import Glibc
import Spawn

extension Spawn {
  /// Waits for `pid` on a thread of its own (not a concurrency pool thread); its exit
  /// status, 128 + the signal for a killed child.
  static func wait(_ pid: pid_t) async -> Int32 {
    await withCheckedContinuation { continuation in
      let thread = Thread {
        var raw: Int32 = 0
        while waitpid(pid, &raw, 0) < 0 {
          if errno != EINTR {
            continuation.resume(returning: 1)
            return
          }
        }
        continuation.resume(returning: exitStatus(raw))
      }
      thread.name = "midge-supervisor-wait"
      thread.start()
    }
  }
}
