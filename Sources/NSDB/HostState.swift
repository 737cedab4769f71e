import Logging
import Topology
import ZooKeeper

/// A host's runtime keys: `alive` (ephemeral: the agent runs and holds a
/// ZooKeeper session) and `interfaces` (persistent: the interface names the
/// agent found, so operators can bind ports to them).
///
/// Liveness *is* the session: peers stop tunnelling to a host when its
/// `alive` vanishes, which happens when its session is closed or expires.
/// After an expiry the agent is usually still running, so ``registerAlive(host:waitForStale:)``
/// keeps the node asserted and re-creates it on the next session.
public final class HostState: Sendable {
  public let client: ZooKeeperClient
  public let paths: NSDBPaths
  let logger: Logger
  let ephemerals: EphemeralNodes

  public init(client: ZooKeeperClient, paths: NSDBPaths = NSDBPaths(), logger: Logger) {
    self.client = client
    self.paths = paths
    self.logger = logger
    self.ephemerals = EphemeralNodes(client: client, logger: logger)
  }

  /// Marks `host` alive for as long as this client's sessions last.
  ///
  /// `waitForStale` (default: twice the session timeout) is how long to wait
  /// for a previous incarnation's node to expire before failing with
  /// ``NSDBError/Code/heldByAnotherSession``.
  public func registerAlive(host: ID, waitForStale: Duration? = nil) async throws {
    let path = paths.hostAlive(host)
    try await ephemerals.assert(
      path, data: Array(host.description.utf8),
      waitForStale: waitForStale ?? client.sessionTimeout * 2)
    logger.info("host registered alive", metadata: ["nsdb.host": "\(host)"])
  }

  /// Withdraws `host`'s liveness (a clean shutdown).
  public func unregisterAlive(host: ID) async throws {
    try await ephemerals.release(paths.hostAlive(host))
    logger.info("host unregistered", metadata: ["nsdb.host": "\(host)"])
  }

  public func isAlive(_ host: ID) async throws -> Bool {
    do {
      return try await client.exists(paths.hostAlive(host)) != nil
    } catch {
      throw NSDBError.wrap(error, "cannot read liveness of host \(host)")
    }
  }

  /// `host`'s liveness now and after every change.
  public func watchAlive(_ host: ID) -> AsyncThrowingStream<Bool, any Error> {
    .distinct(client.watchData(paths.hostAlive(host))) { $0 != .absent }
  }

  /// Records `host`'s interface names (replacing the previous list). Stored
  /// as UTF-8 text, one name per line: Linux interface names cannot contain
  /// whitespace or `/`, so the format needs no escaping.
  public func setInterfaces(host: ID, _ names: [String]) async throws {
    for name in names where name.isEmpty || name.contains(where: \.isWhitespace) {
      throw NSDBError(.invalidArgument, "invalid interface name '\(name)'")
    }
    let path = paths.hostInterfaces(host)
    let data = Array(names.joined(separator: "\n").utf8)
    do {
      do {
        try await client.set(path, data: data)
      } catch let error as ZooKeeperError where error.code == .noNode {
        try await client.createPath(path, data: data)
        try await client.set(path, data: data)
      }
    } catch {
      throw NSDBError.wrap(error, "cannot write interfaces of host \(host)")
    }
  }

  /// `host`'s interface names; empty when none were recorded.
  public func interfaces(_ host: ID) async throws -> [String] {
    do {
      return Self.decodeInterfaces(try await client.get(paths.hostInterfaces(host)).data)
    } catch let error as ZooKeeperError where error.code == .noNode {
      return []
    } catch {
      throw NSDBError.wrap(error, "cannot read interfaces of host \(host)")
    }
  }

  /// `host`'s interface names now and after every change.
  public func watchInterfaces(_ host: ID) -> AsyncThrowingStream<[String], any Error> {
    .distinct(client.watchData(paths.hostInterfaces(host))) {
      Self.decodeInterfaces($0.data ?? [])
    }
  }

  static func decodeInterfaces(_ data: [UInt8]) -> [String] {
    String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
  }
}
