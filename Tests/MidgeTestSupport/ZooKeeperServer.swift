import Foundation
import Glibc
import Logging
import ZooKeeper

/// A real ZooKeeper server (or ensemble) for tests, run by `ops/zk` from
/// Debian's package on 127.0.0.1 with free ports and a temporary data dir.
///
/// Most tests share one standalone server (``shared()``) and isolate
/// themselves under a unique path; tests that restart or kill servers start
/// their own. Every server is stopped by ``stop()``, and the shared one when
/// the test process exits.
public final class ZooKeeperServer: Sendable {
  public let directory: String
  public let connectString: String
  public let members: Int
  /// How long `ops/zk start` took, measured here.
  public let startDuration: Duration

  public static let repositoryRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
  }()

  static var opsZK: String { repositoryRoot + "/ops/zk" }

  init(directory: String, connectString: String, members: Int, startDuration: Duration) {
    self.directory = directory
    self.connectString = connectString
    self.members = members
    self.startDuration = startDuration
  }

  /// Starts a standalone server (`members: 1`) or an ensemble.
  public static func start(members: Int = 1) async throws -> ZooKeeperServer {
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("midge-zk-\(UUID().uuidString.prefix(8))").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let began = ContinuousClock.now
    let output = try await run(["start", "--dir", directory, "--members", "\(members)"])
    let connect = output.trimmingCharacters(in: .whitespacesAndNewlines)
    guard !connect.isEmpty else { throw HarnessError("ops/zk start printed no connect string") }
    return ZooKeeperServer(
      directory: directory, connectString: connect, members: members,
      startDuration: ContinuousClock.now - began)
  }

  /// Runs `body` with a server of its own, stopped afterwards whatever happens.
  public static func with<T>(
    members: Int = 1, _ body: (ZooKeeperServer) async throws -> T
  ) async throws -> T {
    let server = try await start(members: members)
    do {
      let result = try await body(server)
      await server.stop()
      return result
    } catch {
      await server.stop()
      throw error
    }
  }

  /// The standalone server shared by the tests of this process.
  public static func shared() async throws -> ZooKeeperServer {
    try await SharedServer.instance.server()
  }

  /// Stops every member and removes the data directory.
  public func stop() async {
    _ = try? await Self.run(["stop", "--dir", directory])
    try? FileManager.default.removeItem(atPath: directory)
  }

  /// SIGKILL of one member (1-based).
  public func kill(member: Int) async throws {
    _ = try await Self.run(["kill", "--dir", directory, "--member", "\(member)"])
  }

  /// SIGKILL to member `member`'s server process from this process, at once: `kill(member:)`
  /// runs `ops/zk`, which takes 0.1–0.2 s before the signal, too coarse for a test that
  /// must kill at a chosen moment. Call `kill(member:)` afterwards for its bookkeeping;
  /// `restart(member:)` then works as after it.
  public func killNow(member: Int) throws {
    let file = directory + "/m\(member)/pid"
    let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
    guard let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 1 else {
      throw HarnessError("member \(member) has no pid in \(file): is it running?")
    }
    guard Glibc.kill(pid, SIGKILL) == 0 else {
      throw HarnessError("kill(\(pid), SIGKILL) for member \(member): errno \(errno)")
    }
  }

  /// Starts a killed or stopped member again with its data and ports.
  /// `wait: false` for a member that cannot reach a quorum yet.
  public func restart(member: Int, wait: Bool = true) async throws {
    var arguments = ["restart", "--dir", directory, "--member", "\(member)"]
    if !wait { arguments.append("--no-wait") }
    _ = try await Self.run(arguments)
  }

  /// Waits until every running member serves.
  public func waitServing() async throws {
    _ = try await Self.run(["wait", "--dir", directory])
  }

  /// The member that leads (1 for a standalone server).
  public func leader() async throws -> Int {
    let text = try await Self.run(["leader", "--dir", directory])
    guard let member = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
      throw HarnessError("ops/zk leader printed '\(text)'")
    }
    return member
  }

  /// The member whose client port is `port`.
  public func member(port: Int) async throws -> Int? {
    for member in 1...members {
      let text = try await Self.run(["port", "--dir", directory, "--member", "\(member)"])
      if Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) == port { return member }
    }
    return nil
  }

  /// A client to this server with a short session timeout.
  public func client(
    sessionTimeout: Duration = .seconds(4), label: String = "test",
    authentication: [DigestIdentity] = []
  ) async throws -> ZooKeeperClient {
    try await ZooKeeperClient.connect(
      to: connectString, sessionTimeout: sessionTimeout, authentication: authentication,
      logger: Self.logger(label), timeout: .seconds(20))
  }

  /// Runs `body` with a connected client, closed afterwards whatever happens.
  public func withClient<T>(
    sessionTimeout: Duration = .seconds(4), label: String = "test",
    _ body: (ZooKeeperClient) async throws -> T
  ) async throws -> T {
    let client = try await self.client(sessionTimeout: sessionTimeout, label: label)
    do {
      let result = try await body(client)
      await client.close()
      return result
    } catch {
      await client.close()
      throw error
    }
  }

  public static func logger(_ label: String) -> Logger {
    var logger = Logger(label: "midge.test.\(label)")
    logger.logLevel = .warning
    return logger
  }

  /// Runs `ops/zk` without blocking a thread of the concurrency pool, with a clean
  /// signal state (see `ChildProcess`), and at most 120 s.
  @discardableResult
  static func run(_ arguments: [String]) async throws -> String {
    // Empty container nodes are reaped every 250 ms instead of every minute,
    // so tests can check that behaviour.
    var environment = ProcessInfo.processInfo.environment
    environment["MIDGE_ZK_JAVA_OPTS"] =
      (environment["MIDGE_ZK_JAVA_OPTS"].map { $0 + " " } ?? "")
      + "-Dznode.container.checkIntervalMs=250"
    let stdoutPath = NSTemporaryDirectory() + "midge-zk-\(UUID().uuidString).out"
    let stderrPath = stdoutPath + ".err"
    defer {
      unlink(stdoutPath)
      unlink(stderrPath)
    }
    let child = try ChildProcess(
      ["/bin/bash", "-c", "exec \"$0\" \"$@\" 2>'\(stderrPath)'", opsZK] + arguments,
      environment: environment, output: stdoutPath)
    guard let status = await child.wait(timeout: .seconds(120)) else {
      child.signal(SIGKILL)
      await child.wait(timeout: .seconds(5))
      throw HarnessError("ops/zk \(arguments.joined(separator: " ")) did not finish in 120 s")
    }
    let out = (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? ""
    let err = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
    guard status == 0 else {
      throw HarnessError("ops/zk \(arguments.joined(separator: " ")) exited \(status): \(err)")
    }
    return out
  }
}

/// Starts the shared server once per process and stops it at exit.
actor SharedServer {
  static let instance = SharedServer()
  private var started: Task<ZooKeeperServer, any Error>?

  func server() async throws -> ZooKeeperServer {
    if let started { return try await started.value }
    let task = Task { try await ZooKeeperServer.start() }
    started = task
    let server = try await task.value
    SharedServerCleanup.register(directory: server.directory)
    return server
  }
}

/// `atexit` needs a C function: it stops the shared server synchronously with
/// `system(3)` (Foundation's `Process` cannot be waited for while exiting).
enum SharedServerCleanup {
  nonisolated(unsafe) static var command: String?

  static func register(directory: String) {
    command =
      "/bin/bash '\(ZooKeeperServer.opsZK)' stop --dir '\(directory)' >/dev/null 2>&1; rm -rf '\(directory)'"
    atexit {
      guard let command = SharedServerCleanup.command else { return }
      _ = system(command)
    }
  }
}

public struct HarnessError: Error, CustomStringConvertible {
  public var description: String
  public init(_ description: String) { self.description = description }
}

/// A unique node path for one test, so tests sharing a server never collide.
public func uniquePath(_ name: String) -> String {
  "/test-\(name)-\(UUID().uuidString.prefix(8).lowercased())"
}

/// Polls `condition` until it holds or `timeout` passes (bounded in time and count).
public func eventually(
  timeout: Duration = .seconds(10), every interval: Duration = .milliseconds(20),
  _ condition: () async throws -> Bool
) async rethrows -> Bool {
  let deadline = ContinuousClock.now + timeout
  while ContinuousClock.now < deadline {
    if try await condition() { return true }
    try? await Task.sleep(for: interval)
  }
  return try await condition()
}
