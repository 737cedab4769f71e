import Foundation
import Glibc

/// A child process started with a clean signal state, for tests.
///
/// Why not `Foundation.Process`: it spawns from whatever thread calls it, and a child
/// inherits that thread's signal mask. The concurrency pool's threads block SIGTERM,
/// SIGALRM and most other signals, so a child started from a test inherits them blocked:
/// `terminate()` does nothing, `timeout(1)` in a script never fires, and a test that
/// waits for such a child can hang for ever (this once hung CI on a stuck `ruok`
/// probe). `posix_spawn` with `POSIX_SPAWN_SETSIGMASK` and `POSIX_SPAWN_SETSIGDEF` gives
/// the child an empty mask and default dispositions whatever thread spawns it.
public final class ChildProcess: @unchecked Sendable {
  public let pid: pid_t
  private let lock = NSLock()
  private var status: Int32?

  /// Starts `arguments` (looked up on PATH), stdout and stderr to `output` (a file
  /// path, created or truncated) or inherited, stdin from /dev/null.
  public init(
    _ arguments: [String], environment: [String: String]? = nil, output: String? = nil
  ) throws {
    precondition(!arguments.isEmpty)
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

    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    if let output {
      posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
      posix_spawn_file_actions_adddup2(&actions, 1, 2)
    }

    let environment = environment ?? ProcessInfo.processInfo.environment
    let argv = arguments.map { strdup($0) } + [nil]
    let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer {
      for pointer in argv { free(pointer) }
      for pointer in envp { free(pointer) }
    }
    var pid: pid_t = 0
    let result = posix_spawnp(&pid, arguments[0], &actions, &attributes, argv, envp)
    guard result == 0 else {
      throw HarnessError("cannot start \(arguments[0]): \(String(cString: strerror(result)))")
    }
    self.pid = pid
  }

  /// The exit status (128 + signal for a killed child) once it ended, without waiting.
  public var exitStatus: Int32? {
    lock.withLock {
      if let status { return status }
      var raw: Int32 = 0
      guard waitpid(pid, &raw, WNOHANG) == pid else { return nil }
      let signal = raw & 0x7F
      status = signal == 0 ? (raw >> 8) & 0xFF : 128 + signal
      return status
    }
  }

  public var isRunning: Bool { exitStatus == nil }

  /// Sends `signal` (if it still runs).
  public func signal(_ signal: Int32) {
    if isRunning { kill(pid, signal) }
  }

  /// Waits up to `timeout` for the child to end; nil if it still runs.
  @discardableResult
  public func wait(timeout: Duration) async -> Int32? {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
      if let status = exitStatus { return status }
      try? await Task.sleep(for: .milliseconds(10))
    }
    return exitStatus
  }

  /// Waits synchronously (for callers outside async code), polling.
  @discardableResult
  public func waitBlocking(timeout: Double) -> Int32? {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
      if let status = exitStatus { return status }
      usleep(10_000)
    }
    return exitStatus
  }

  /// SIGTERM, then SIGKILL after `grace` if it is still there; waits for it.
  public func stop(grace: Double = 3) {
    guard isRunning else { return }
    kill(pid, SIGTERM)
    if waitBlocking(timeout: grace) == nil {
      kill(pid, SIGKILL)
      waitBlocking(timeout: 5)
    }
  }
}

/// Runs a command with a time limit (killed beyond it); returns its exit status and
/// its combined output. The child starts with a clean signal state (see `ChildProcess`).
@discardableResult
public func runCommand(
  _ arguments: [String], timeout: Double = 15, environment: [String: String]? = nil
) -> (status: Int32, output: String) {
  let output = NSTemporaryDirectory() + "midge-cmd-\(UUID().uuidString).out"
  defer { unlink(output) }
  let child: ChildProcess
  do {
    child = try ChildProcess(arguments, environment: environment, output: output)
  } catch {
    return (-1, "\(error)")
  }
  var status = child.waitBlocking(timeout: timeout)
  if status == nil {
    child.signal(SIGKILL)
    status = child.waitBlocking(timeout: 5)
  }
  let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
  return (status ?? -1, text)
}
