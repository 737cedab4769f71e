import Foundation
import Glibc

/// Starting and reaping the supervised child.
enum Spawn {
  struct Failure: Error, CustomStringConvertible {
    var description: String
  }

  /// Starts `arguments` (looked up on PATH) with an empty signal mask and default
  /// signal dispositions (the supervisor itself ignores the signals it forwards, and a
  /// child must not inherit that), stdin, stdout and stderr inherited.
  static func start(_ arguments: [String], environment: [String: String]) throws -> pid_t {
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var empty = sigset_t()
    sigemptyset(&empty)
    var all = sigset_t()
    sigfillset(&all)
    posix_spawnattr_setsigmask(&attributes, &empty)
    posix_spawnattr_setsigdefault(&attributes, &all)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    let argv = arguments.map { strdup($0) } + [nil]
    let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer {
      for pointer in argv { free(pointer) }
      for pointer in envp { free(pointer) }
    }
    var pid: pid_t = 0
    let result = posix_spawnp(&pid, arguments[0], nil, &attributes, argv, envp)
    guard result == 0 else {
      throw Failure(
        description: "cannot start \(arguments[0]): \(String(cString: strerror(result)))")
    }
    return pid
  }

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
        let signal = raw & 0x7F
        continuation.resume(returning: signal == 0 ? (raw >> 8) & 0xFF : 128 + signal)
      }
      thread.name = "midge-supervisor-wait"
      thread.start()
    }
  }
}
