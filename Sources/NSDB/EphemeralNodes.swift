import Logging
import Synchronization
import ZooKeeper

/// Ephemeral nodes this process asserts (a host's `alive`, a port's
/// `active`), re-created after a session expiry.
///
/// Why a registry rather than a bare `create`: an expiry deletes every
/// ephemeral of the session, and the agent is still alive and still serving;
/// the truth must be written again as soon as a new session exists. One
/// `onNewSession` hook per registry re-creates what is still asserted.
///
/// Why `waitForStale`: a restarted agent often finds its *previous* process's
/// node, held by a session the servers have not expired yet. Waiting up to
/// about one session timeout lets that node vanish instead of failing the
/// start. A node held by another live session after the wait is reported as
/// ``NSDBError/Code/heldByAnotherSession``; the hook never fights for a
/// node another session took meanwhile (it logs and forgets it).
final class EphemeralNodes: Sendable {
  let client: ZooKeeperClient
  let logger: Logger

  struct State {
    var nodes: [String: [UInt8]] = [:]
    var hook: UInt64?
  }

  let state = Mutex(State())
  /// Told the path of each node the hook had to give up (another session holds it).
  let onGivenUp: (@Sendable (String) -> Void)?

  init(
    client: ZooKeeperClient, logger: Logger, onGivenUp: (@Sendable (String) -> Void)? = nil
  ) {
    self.client = client
    self.logger = logger
    self.onGivenUp = onGivenUp
  }

  deinit {
    if let hook = state.withLock({ $0.hook }) { client.removeNewSessionHook(hook) }
  }

  /// Creates `path` as an ephemeral node with `data` (parents as needed),
  /// adopts it if this session already holds it, and keeps it asserted.
  func assert(_ path: String, data: [UInt8], waitForStale: Duration) async throws {
    try await create(path, data: data, waitForStale: waitForStale)
    state.withLock { state in
      state.nodes[path] = data
      if state.hook == nil {
        state.hook = client.onNewSession { [weak self] _ in await self?.reassertAll() }
      }
    }
  }

  /// Stops asserting `path` and deletes it if this session holds it.
  /// Returns true when a node was deleted.
  @discardableResult
  func release(_ path: String) async throws -> Bool {
    _ = state.withLock { $0.nodes.removeValue(forKey: path) }
    do {
      guard let stat = try await client.exists(path), stat.ephemeralOwner == client.sessionID
      else { return false }
      try await client.delete(path, version: stat.version)
      return true
    } catch let error as ZooKeeperError where error.code == .noNode || error.code == .badVersion {
      return false
    } catch {
      throw NSDBError.wrap(error, "cannot delete \(path)")
    }
  }

  func isAsserted(_ path: String) -> Bool { state.withLock { $0.nodes[path] != nil } }

  /// The `onNewSession` hook: writes every asserted node again.
  func reassertAll() async {
    let nodes = state.withLock { $0.nodes }
    for (path, data) in nodes.sorted(by: { $0.key < $1.key }) {
      do {
        try await create(path, data: data, waitForStale: .zero)
        // Released while we were creating it: take it back out.
        if !isAsserted(path) { _ = try? await release(path) }
        logger.info(
          "re-created an ephemeral node after a new session", metadata: ["nsdb.path": "\(path)"])
      } catch {
        _ = state.withLock { $0.nodes.removeValue(forKey: path) }
        logger.info(
          "cannot re-create an ephemeral node after a new session; giving it up",
          metadata: ["nsdb.path": "\(path)", "nsdb.error": "\(error)"])
        onGivenUp?(path)
      }
    }
  }

  /// One bounded create-or-adopt loop (see the type's notes).
  func create(_ path: String, data: [UInt8], waitForStale: Duration) async throws {
    let deadline = ContinuousClock.now + waitForStale
    for _ in 0..<10_000 {
      do {
        try await client.create(path, data: data, mode: .ephemeral)
        return
      } catch let error as ZooKeeperError {
        switch error.code {
        case .noNode:
          do {
            try await client.createPath(Self.parent(of: path))
          } catch {
            throw NSDBError.wrap(error, "cannot create the parents of \(path)")
          }
        case .outcomeUnknown, .connectionLoss, .operationTimeout:
          // The next round sees our node (adopt) or creates it.
          try await client.waitUntilConnected(timeout: client.sessionTimeout)
        case .nodeExists:
          if try await adopt(path, data: data) { return }
          guard ContinuousClock.now < deadline else {
            throw NSDBError(
              .heldByAnotherSession, "\(path) is held by another ZooKeeper session")
          }
          try await Task.sleep(for: .milliseconds(100))
        default:
          throw NSDBError.wrap(error, "cannot create \(path)")
        }
      } catch {
        throw NSDBError.wrap(error, "cannot create \(path)")
      }
    }
    throw NSDBError(.zookeeper, "gave up creating \(path)")
  }

  /// If this session already holds `path`, brings its data up to date and
  /// returns true.
  func adopt(_ path: String, data: [UInt8]) async throws -> Bool {
    do {
      let node = try await client.get(path)
      guard node.stat.ephemeralOwner == client.sessionID else { return false }
      if node.data != data { try await client.set(path, data: data, version: node.stat.version) }
      return true
    } catch let error as ZooKeeperError where error.code == .noNode {
      return false
    }
  }

  static func parent(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return "/" }
    return String(path[..<slash])
  }
}

extension AsyncThrowingStream where Failure == any Error {
  /// `source` mapped by `transform`, without consecutive duplicates: the
  /// client's watches may re-deliver a state after a reconnect. An error
  /// `transform` throws ends the stream with it.
  static func distinct<Source: Sendable>(
    _ source: AsyncThrowingStream<Source, any Error>,
    _ transform: @escaping @Sendable (Source) throws -> Element
  ) -> AsyncThrowingStream<Element, any Error> where Element: Equatable & Sendable {
    let (stream, continuation) = AsyncThrowingStream<Element, any Error>.makeStream()
    let task = Task {
      var last: Element?
      do {
        for try await state in source {
          let value = try transform(state)
          if let last, last == value { continue }
          last = value
          continuation.yield(value)
        }
        continuation.finish()
      } catch {
        continuation.finish(throwing: error)
      }
    }
    continuation.onTermination = { _ in task.cancel() }
    return stream
  }
}
