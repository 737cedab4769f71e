import ArgumentParser
import Dispatch
import Foundation
import Glibc
import Logging
import Spawn
import ZooKeeper

/// `midge-supervisor -- midge-agent ARGS...`: runs the agent as its child and, when the
/// agent dies without closing its ZooKeeper session (SIGKILL, a crash, the OOM killer),
/// closes that session at once.
///
/// Why: a dead agent's ephemeral nodes (its ports' `active` state, its liveness) stay
/// until ZooKeeper expires the session, a whole session timeout after the death, and
/// until then no other host takes its gateway ports over. The supervisor learns the
/// session's id and password from the file the agent keeps (`MIDGE_SESSION_FILE`),
/// waits for the child with `waitpid`, and only then attaches to the session and closes
/// it, so the ephemerals go within milliseconds.
///
/// Safety: it never closes the session of a live agent. It acts only after `waitpid`
/// has reaped its own child, and only on the session that child wrote into a file this
/// supervisor made for it; a clean stop removes the file after the agent closed its
/// session itself. SIGTERM, SIGINT, SIGHUP and SIGQUIT are passed on to the agent, so
/// a service manager stops the agent gracefully through the supervisor. The exit status
/// is the agent's (128 + the signal for a killed agent), so a service manager sees and
/// restarts a crash as before.
@main
struct MidgeSupervisor: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "midge-supervisor",
    abstract: "Run midge-agent and close its ZooKeeper session as soon as it dies.")

  @Option(help: "Where the agent keeps its session (default: a private temporary file).")
  var sessionFile: String?
  @Option(help: "Write the agent's process id here once it is started.") var pidFile: String?
  @Option(help: "Seconds to spend closing a dead agent's session.") var closeTimeout: Double = 5
  @Argument(parsing: .captureForPassthrough, help: "The agent's command line, after --.")
  var command: [String]

  mutating func validate() throws {
    if command.first == "--" { command.removeFirst() }
    guard !command.isEmpty else { throw ValidationError("no command to run (after --)") }
    guard closeTimeout > 0 else { throw ValidationError("--close-timeout must be positive") }
  }

  func run() async throws {
    LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
    let logger = Logger(label: "midge.supervisor")
    var directory: String?
    let path: String
    if let sessionFile {
      path = sessionFile
    } else {
      var template = Array("/tmp/midge-supervisor.XXXXXX".utf8CString)
      guard let made = mkdtemp(&template) else {
        throw ValidationError("cannot make a temporary directory: \(errno)")
      }
      directory = String(cString: made)
      path = directory! + "/session"
    }
    defer { if let directory { rmdir(directory) } }
    unlink(path)  // a file left by an earlier agent is not this child's

    let forwarded = [SIGTERM, SIGINT, SIGHUP, SIGQUIT]
    for signal in forwarded { Glibc.signal(signal, SIG_IGN) }
    var environment = ProcessInfo.processInfo.environment
    environment["MIDGE_SESSION_FILE"] = path
    let child = try Spawn.start(command, environment: environment)
    if let pidFile { try? "\(child)\n".write(toFile: pidFile, atomically: true, encoding: .utf8) }
    let sources = forwarded.map { signal in
      let source = DispatchSource.makeSignalSource(signal: signal, queue: .global())
      source.setEventHandler { kill(child, signal) }
      source.resume()
      return source
    }
    defer { for source in sources { source.cancel() } }

    let status = await Spawn.wait(child)
    if let text = try? String(contentsOfFile: path, encoding: .utf8) {
      if let file = SessionFile(parsing: text) {
        let start = ContinuousClock.now
        do {
          try await ZooKeeperClient.expireSession(
            file.credentials, connectString: file.zookeeper,
            timeout: .milliseconds(closeTimeout * 1000))
          logger.info(
            "closed the dead agent's session",
            metadata: [
              "supervisor.session":
                "\(String(UInt64(bitPattern: file.credentials.sessionID), radix: 16))",
              "supervisor.agent_status": "\(status)",
              "supervisor.close_ms": "\(milliseconds(ContinuousClock.now - start))",
            ])
        } catch {
          logger.info(
            "could not close the dead agent's session (it may have ended already)",
            metadata: ["supervisor.error": "\(error)"])
        }
      } else {
        logger.info(
          "the session file cannot be read; nothing closed",
          metadata: ["supervisor.file": "\(path)"])
      }
      unlink(path)
    }
    if let pidFile { unlink(pidFile) }
    throw ExitCode(status)
  }

  private func milliseconds(_ duration: Duration) -> Int64 {
    duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
  }
}
