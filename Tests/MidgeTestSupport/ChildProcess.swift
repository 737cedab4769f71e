import Foundation
import Glibc
import Spawn

/// A child process started with a clean signal state (see `Spawn`), for tests.
public final class ChildProcess: @unchecked Sendable {
  public let pid: pid_t
  private let lock = NSLock()
  private var status: Int32?

  /// Starts `arguments` (looked up on PATH), stdout and stderr to `output` (a file
  /// path, created or truncated) or inherited, stdin from /dev/null.
  public init(
    _ arguments: [String], environment: [String: String]? = nil, output: String? = nil
  ) throws {
    do {
      pid = try Spawn.start(
        arguments, environment: environment ?? ProcessInfo.processInfo.environment,
        output: output, detachInput: true)
    } catch {
      throw HarnessError(error.description)
    }
  }

  /// The exit status (128 + signal for a killed child) once it ended, without waiting.
  public var exitStatus: Int32? {
    lock.withLock {
      if let status { return status }
      var raw: Int32 = 0
      guard waitpid(pid, &raw, WNOHANG) == pid else { return nil }
      status = Spawn.exitStatus(raw)
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
