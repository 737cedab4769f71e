import Synchronization
import Topology
import ZooKeeper

extension NSDBStore {
  /// One object: its current value first, then every change, then `.deleted`
  /// (and the stream ends). Throws `.notFound` if it does not exist. Bytes that
  /// cannot be decoded arrive as `.corrupt` and observation goes on, so a repair
  /// arrives as a value. Observers of the same object share one ZooKeeper watch;
  /// it survives reconnects and session expiry.
  public func observe<T: WireCodable>(_ type: T.Type, _ id: ID)
    -> AsyncThrowingStream<ObjectUpdate<T>, any Error>
  {
    let path = paths.object(T.modelType, id)
    let (stream, continuation) = AsyncThrowingStream<ObjectUpdate<T>, any Error>.makeStream()
    for _ in 0..<4 {
      let hub = observers.hub(T.self, path: path, id: id, store: self)
      if let token = hub.subscribe(continuation) {
        let registry = observers
        continuation.onTermination = { _ in hub.unsubscribe(token, registry: registry) }
        return stream
      }
      observers.remove(path, hub)
    }
    continuation.finish(throwing: NSDBError(.zookeeper, "cannot observe \(path)"))
    return stream
  }

  /// Every object of a type: each one's value as it is now and after every
  /// change, deletions, undecodable objects as `.failed` (skipped, nothing
  /// else stops), and `.ready` once the objects that existed at the start
  /// have all been delivered.
  public func observeAll<T: WireCodable>(_ type: T.Type) -> AsyncThrowingStream<
    ModelEvent<T>, any Error
  > {
    let (stream, continuation) = AsyncThrowingStream<ModelEvent<T>, any Error>.makeStream()
    let directory = paths.models(T.modelType)
    let task = Task {
      let tracker = ReadyTracker()
      let delivered: @Sendable (ID) -> Void = { id in
        if tracker.delivered(id) { continuation.yield(.ready) }
      }
      var followed: [ID: Task<Void, Never>] = [:]
      let finished = FinishedFollowers()
      defer { for task in followed.values { task.cancel() } }
      /// What the first, bulk read delivered: a follower's first value equal
      /// to it is not delivered twice.
      var initial: [ID: T] = [:]
      do {
        for try await listing in client.watchChildren(directory) {
          let ids = Set((listing.children ?? []).compactMap(ID.init))
          if tracker.start([]) {
            // Cold start: read every object at once (1,024 in flight), deliver
            // them and `.ready`, then arm one watch per object behind it.
            initial = try await bulkRead(T.self, ids, into: continuation)
            continuation.yield(.ready)
          }
          // Followers that ended (their object was deleted) make room for a new one, so
          // an object re-created under the same id is followed again.
          for id in finished.take() { followed.removeValue(forKey: id) }
          for id in ids where followed[id] == nil {
            let known = initial.removeValue(forKey: id)
            followed[id] = Task {
              defer { finished.insert(id) }
              var seen = known
              var present = known != nil
              // An object deleted and re-created between two listings: after `.deleted`
              // observe it again, and end only once it is really absent.
              for _ in 0..<64 {
                do {
                  for try await update in self.observe(T.self, id) {
                    switch update {
                    case .value(let value):
                      if value != seen { continuation.yield(.updated(value)) }
                      seen = nil
                      present = true
                    case .corrupt(let error):
                      continuation.yield(.failed(id, error))
                      seen = nil
                      present = true
                    case .deleted:
                      continuation.yield(.deleted(id))
                      present = false
                    }
                    delivered(id)
                  }
                } catch let error as NSDBError where error.code == .notFound {
                  if present { continuation.yield(.deleted(id)) }
                  return
                } catch let error as NSDBError {
                  continuation.yield(.failed(id, error))
                  return
                } catch {
                  return
                }
                if Task.isCancelled { return }
              }
            }
          }
          // Forget finished followers so a re-created object is followed again.
          for id in Array(followed.keys) where !ids.contains(id) {
            followed.removeValue(forKey: id)
          }
        }
        continuation.finish()
      } catch {
        continuation.finish(throwing: NSDBError.zookeeper(error, "observing \(directory)"))
      }
    }
    continuation.onTermination = { _ in task.cancel() }
    return stream
  }
}

extension NSDBStore {
  /// Reads `ids` concurrently and delivers each as `.updated` (or `.failed`);
  /// returns what it delivered.
  func bulkRead<T: WireCodable>(
    _ type: T.Type, _ ids: Set<ID>,
    into continuation: AsyncThrowingStream<ModelEvent<T>, any Error>.Continuation
  ) async throws -> [ID: T] {
    let order = Array(ids)
    return try await withThrowingTaskGroup(of: (ID, T?).self) { group in
      var next = 0
      var values: [ID: T] = [:]
      func schedule() {
        guard next < order.count else { return }
        let id = order[next]
        next += 1
        group.addTask {
          do {
            return (id, try await self.get(T.self, id))
          } catch let error as NSDBError where error.code == .notFound {
            return (id, nil)
          } catch let error as NSDBError where error.code == .corrupt {
            continuation.yield(.failed(id, error))
            return (id, nil)
          }
        }
      }
      for _ in 0..<1024 { schedule() }
      while let (id, value) = try await group.next() {
        if let value {
          values[id] = value
          continuation.yield(.updated(value))
        }
        schedule()
      }
      return values
    }
  }
}

/// Tracks which of the objects present at the start have been delivered.
final class ReadyTracker: Sendable {
  private let pending = Mutex<Set<ID>?>(nil)

  /// Records the first listing; true only the first time.
  func start(_ ids: Set<ID>) -> Bool {
    pending.withLock { pending in
      guard pending == nil else { return false }
      pending = ids
      return true
    }
  }

  /// True exactly once: when the last initial object was delivered.
  func delivered(_ id: ID) -> Bool {
    pending.withLock { pending in
      guard var ids = pending, ids.remove(id) != nil else { return false }
      pending = ids
      return ids.isEmpty
    }
  }
}

/// The ids whose followers ended, collected for the listing loop.
final class FinishedFollowers: Sendable {
  private let ids = Mutex<Set<ID>>([])

  func insert(_ id: ID) { _ = ids.withLock { $0.insert(id) } }

  func take() -> Set<ID> {
    ids.withLock { ids in
      defer { ids.removeAll() }
      return ids
    }
  }
}
