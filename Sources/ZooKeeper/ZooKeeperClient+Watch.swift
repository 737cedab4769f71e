import CZooKeeper

/// A node's data as a watch sees it: absent, or present with data and stat.
public enum NodeState: Sendable, Hashable {
  case absent
  case present(NodeData)

  public var data: [UInt8]? {
    if case .present(let node) = self { return node.data }
    return nil
  }

  /// Creation, then change order of this state (nil when absent).
  var order: (Int64, Int64)? {
    if case .present(let node) = self { return (node.stat.czxid, node.stat.mzxid) }
    return nil
  }
}

/// A node's children as a watch sees them: the node absent, or its children.
public enum ChildrenState: Sendable, Hashable {
  case absent
  case present(NodeChildren)

  public var children: [String]? {
    if case .present(let node) = self { return node.children }
    return nil
  }

  /// Creation, then children-change order of this state (nil when absent).
  var order: (Int64, Int64)? {
    if case .present(let node) = self { return (node.stat.czxid, node.stat.pzxid) }
    return nil
  }
}

/// One armed watch registration: the registry routes the C watcher's events
/// for it into `events`. Dropped (unregistered) once its owner re-reads.
final class WatchTrigger: Sendable {
  let id: UInt
  let events: AsyncStream<WatchedEvent>

  init(owner: UInt) {
    let (stream, continuation) = AsyncStream<WatchedEvent>.makeStream()
    events = stream
    id = WatcherRegistry.shared.register(owner: owner) { continuation.yield($0) }
  }

  var context: UnsafeMutableRawPointer? { WatcherRegistry.context(id) }

  deinit { WatcherRegistry.shared.unregister(id) }
}

extension ZooKeeperClient {
  /// The node's data now and after every change, as a stream that re-arms
  /// itself after each event, reconnection and session renewal.
  ///
  /// ZooKeeper watches are one-shot and may coalesce changes; the stream
  /// re-reads after each trigger, so it converges to the latest state, and it
  /// drops any read older than what it already delivered (by `mzxid`), so a
  /// consumer never sees an older value after a newer one. It ends when the
  /// client is closed or the consumer stops iterating.
  public func watchData(_ path: String) -> AsyncThrowingStream<NodeState, any Error> {
    watchStream(path) { client, trigger in
      do {
        return .present(try await client.getWatched(path, trigger))
      } catch let error as ZooKeeperError where error.code == .noNode {
        // A data watch is not set on a missing node; an exists watch is.
        if try await client.existsWatched(path, trigger) != nil { return nil }
        return .absent
      }
    } isNewer: { new, old in
      Self.isNewer(new.order, than: old.map(\.order))
    }
  }

  /// The node's children now and after every change (see ``watchData(_:)``).
  public func watchChildren(_ path: String) -> AsyncThrowingStream<ChildrenState, any Error> {
    watchStream(path) { client, trigger in
      do {
        return .present(try await client.childrenWatched(path, trigger))
      } catch let error as ZooKeeperError where error.code == .noNode {
        if try await client.existsWatched(path, trigger) != nil { return nil }
        return .absent
      }
    } isNewer: { new, old in
      Self.isNewer(new.order, than: old.map(\.order))
    }
  }

  /// Whether a read ordered by (czxid, zxid) — nil for an absent node — is
  /// newer than the last delivered one (`old` nil: nothing delivered yet).
  /// A later incarnation of the node (higher czxid) is always newer.
  static func isNewer(_ new: (Int64, Int64)?, than old: (Int64, Int64)??) -> Bool {
    guard let old else { return true }
    switch (new, old) {
    case (nil, nil): return false
    case (let n?, let o?): return n.0 != o.0 ? n.0 > o.0 : n.1 > o.1
    default: return true
    }
  }

  /// The loop shared by both watches. `read` arms `trigger` and returns the
  /// state, or nil when the node changed under it and must be read again.
  func watchStream<S: Sendable>(
    _ path: String,
    read: @escaping @Sendable (ZooKeeperClient, WatchTrigger) async throws -> S?,
    isNewer: @escaping @Sendable (S, S?) -> Bool
  ) -> AsyncThrowingStream<S, any Error> {
    let (stream, continuation) = AsyncThrowingStream<S, any Error>.makeStream()
    let task = Task { [weak self] in
      var last: S?
      while !Task.isCancelled, let client = self {
        let trigger = WatchTrigger(owner: client.ownerID)
        let state: S?
        do {
          state = try await read(client, trigger)
        } catch let error as ZooKeeperError {
          switch error.code {
          case .closed:
            continuation.finish()
            return
          case .connectionLoss, .operationTimeout, .throttled, .sessionExpired, .invalidState:
            try? await Task.sleep(for: .milliseconds(10))
            try? await client.waitUntilConnected()
            continue
          default:
            continuation.finish(throwing: error)
            return
          }
        } catch {
          continuation.finish()
          return
        }
        guard let state else { continue }
        if isNewer(state, last) {
          last = state
          continuation.yield(state)
        }
        guard await client.awaitTrigger(trigger) else {
          continuation.finish()
          return
        }
      }
      continuation.finish()
    }
    continuation.onTermination = { _ in task.cancel() }
    return stream
  }

  /// Waits until the watch should re-read. False when the stream must end.
  func awaitTrigger(_ trigger: WatchTrigger) async -> Bool {
    for await event in trigger.events {
      if event.closed { return false }
      guard event.kind == .session else { return true }
      switch event.state {
      case .connected:
        return true
      case .expired:
        do {
          try await waitUntilConnected()
        } catch {
          return false
        }
        return true
      default:
        continue
      }
    }
    return false
  }

  func getWatched(_ path: String, _ trigger: WatchTrigger) async throws -> NodeData {
    let context = trigger.context
    return try await submit(path: path, isWrite: false) { handle, data in
      zoo_awget(handle, path, registryWatcher, context, Completions.data, data)
    } decode: { reply in
      try Self.decodeData(reply, path: path)
    }
  }

  func existsWatched(_ path: String, _ trigger: WatchTrigger) async throws -> NodeStat? {
    let context = trigger.context
    return try await submit(path: path, isWrite: false) { handle, data in
      zoo_awexists(handle, path, registryWatcher, context, Completions.stat, data)
    } decode: { reply in
      try Self.decodeExists(reply, path: path)
    }
  }

  func childrenWatched(_ path: String, _ trigger: WatchTrigger) async throws -> NodeChildren {
    let context = trigger.context
    return try await submit(path: path, isWrite: false) { handle, data in
      zoo_awget_children2(handle, path, registryWatcher, context, Completions.children, data)
    } decode: { reply in
      try Self.decodeChildren(reply, path: path)
    }
  }
}
