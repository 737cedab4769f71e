import ArgumentParser
import CommandSupport
import Logging
import ZooKeeper

/// `midgectl smoke`: a short end-to-end check of a ZooKeeper ensemble through
/// the Midge client: create, watch, update, multi, delete. Prints each step.
struct Smoke: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Create, watch, update and delete nodes under a scratch path to check ZooKeeper."
  )

  @Option(
    name: .customLong("zk"),
    help: "ZooKeeper connect string (default: $MIDGE_ZK or 127.0.0.1:2181).")
  var connectString: String = Environment.zookeeper

  @Option(help: "Scratch path to use (removed afterwards).")
  var path: String = "/midge-smoke"

  func run() async throws {
    var logger = Logger(label: "midgectl.smoke")
    logger.logLevel = .warning
    let started = ContinuousClock.now
    let client = try await ZooKeeperClient.connect(
      to: connectString, sessionTimeout: .seconds(5), logger: logger)
    print("connected to \(connectString): session 0x\(String(client.sessionID, radix: 16))")
    do {
      try await exercise(client)
    } catch {
      try? await client.deleteRecursively(path)
      await client.close()
      throw error
    }
    try await client.deleteRecursively(path)
    await client.close()
    print("smoke: OK in \(ContinuousClock.now - started)")
  }

  private func exercise(_ client: ZooKeeperClient) async throws {
    try await client.deleteRecursively(path)
    let watched = path + "/watched"
    try await client.createPath(path)
    var updates = client.watchData(watched).makeAsyncIterator()
    guard case .absent = try await updates.next() else {
      throw SmokeFailure("watch: expected absent")
    }
    print("watch armed on \(watched): absent")

    try await client.create(watched, data: Array("v0".utf8))
    for value in 1...3 { try await client.set(watched, data: Array("v\(value)".utf8)) }
    var last = ""
    for _ in 0..<8 where last != "v3" {
      guard case .present(let node) = try await updates.next() else { continue }
      last = String(decoding: node.data, as: UTF8.self)
      print("watch saw \(last) (version \(node.stat.version))")
    }
    guard last == "v3" else { throw SmokeFailure("watch did not converge to v3 (saw \(last))") }

    let member = try await client.create(path + "/member-", mode: .ephemeralSequential)
    print("created ephemeral sequential \(member)")
    let results = try await client.multi([
      .create(path + "/a", data: Array("a".utf8)),
      .create(path + "/b", data: Array("b".utf8)),
      .check(watched, version: 3),
    ])
    print("multi applied \(results.count) operations")
    do {
      _ = try await client.multi([.create(path + "/c"), .check(watched, version: 99)])
      throw SmokeFailure("multi with a failing check was applied")
    } catch let error as ZooKeeperError where error.failedOperation == 1 {
      print("multi with a stale check rejected as expected: \(error.code)")
    }
    guard try await client.exists(path + "/c") == nil else {
      throw SmokeFailure("a rejected multi left /c behind")
    }
    let children = try await client.children(path)
    print("children of \(path): \(children.children.joined(separator: " "))")
    try await client.delete(watched)
    for _ in 0..<4 {
      if case .absent = try await updates.next() { break }
    }
    print("watch saw the deletion")
  }
}

struct SmokeFailure: Error, CustomStringConvertible {
  var description: String
  init(_ description: String) { self.description = "smoke failed: \(description)" }
}
