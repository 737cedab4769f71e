import Synchronization
import Topology
import ZooKeeper

/// What an observer of one object sees.
public enum ObjectUpdate<T: WireCodable>: Sendable {
  case value(T)
  /// The stored bytes cannot be decoded (now, or from the start). Observation goes on: a
  /// repair is delivered as `.value`. What to do meanwhile (keep the last good value,
  /// report it) is the observer's choice.
  case corrupt(NSDBError)
  /// The object was deleted; the stream ends after this.
  case deleted
}

/// What an observer of a whole type sees.
public enum ModelEvent<T: WireCodable>: Sendable {
  /// An object's current value (first, then after every change).
  case updated(T)
  case deleted(ID)
  /// An object whose stored bytes cannot be decoded (skipped; a repair comes as `.updated`).
  case failed(ID, NSDBError)
  /// Every object that existed when observation started has been delivered.
  case ready
}

/// Shares one ZooKeeper watch among all observers of the same object.
///
/// A hub per path keeps the latest value and its subscribers; a new
/// subscriber gets the latest value first, under the same lock the watch
/// uses to deliver, so no subscriber sees an older value after a newer one.
/// The hub (and its watch) goes away with its last subscriber.
final class ObserverRegistry: Sendable {
  let hubs = Mutex<[String: any AnyHub]>([:])

  func hub<T: WireCodable>(_ type: T.Type, path: String, id: ID, store: NSDBStore) -> Hub<T> {
    hubs.withLock { hubs in
      if let hub = hubs[path] as? Hub<T> { return hub }
      let hub = Hub<T>(path: path, id: id)
      hubs[path] = hub
      hub.start(store: store)
      return hub
    }
  }

  func remove(_ path: String, _ hub: any AnyHub) {
    hubs.withLock { hubs in
      if let current = hubs[path], current === hub { hubs.removeValue(forKey: path) }
    }
  }
}

protocol AnyHub: AnyObject, Sendable {}

final class Hub<T: WireCodable>: AnyHub {
  typealias Continuation = AsyncThrowingStream<ObjectUpdate<T>, any Error>.Continuation

  struct State {
    var last: T?
    /// Set while the stored bytes are undecodable; a new subscriber gets it, not `last`.
    var corrupt: NSDBError?
    var subscribers: [UInt64: Continuation] = [:]
    var nextToken: UInt64 = 0
    var task: Task<Void, Never>?
    var ended = false
  }

  let path: String
  let id: ID
  let state = Mutex(State())

  init(path: String, id: ID) {
    self.path = path
    self.id = id
  }

  func start(store: NSDBStore) {
    let task = Task { [weak store] in
      guard let store else { return }
      await self.pump(store)
    }
    state.withLock { $0.task = task }
  }

  /// Adds a subscriber; false if the hub already ended (the caller makes a new one).
  func subscribe(_ continuation: Continuation) -> UInt64? {
    state.withLock { state in
      guard !state.ended else { return nil }
      let token = state.nextToken
      state.nextToken += 1
      state.subscribers[token] = continuation
      if let corrupt = state.corrupt {
        continuation.yield(.corrupt(corrupt))
      } else if let last = state.last {
        continuation.yield(.value(last))
      }
      return token
    }
  }

  /// Drops a subscriber; the last one out stops the watch.
  func unsubscribe(_ token: UInt64, registry: ObserverRegistry) {
    let task = state.withLock { state -> Task<Void, Never>? in
      state.subscribers.removeValue(forKey: token)
      guard state.subscribers.isEmpty else { return nil }
      state.ended = true
      return state.task
    }
    if let task {
      task.cancel()
      registry.remove(path, self)
    }
  }

  func pump(_ store: NSDBStore) async {
    var seen = false
    do {
      for try await node in store.client.watchData(path) {
        switch node {
        case .absent:
          finish(
            store, seen ? nil : NSDBError(.notFound, "\(T.modelType.rawValue) \(id) does not exist")
          )
          return
        case .present(let data):
          seen = true
          let update: ObjectUpdate<T>
          do {
            update = .value(try ModelCodec.decode(T.self, data.data, id: id))
          } catch {
            update = .corrupt(error)
          }
          state.withLock { state in
            switch update {
            case .value(let value):
              state.last = value
              state.corrupt = nil
            case .corrupt(let error): state.corrupt = error
            case .deleted: break
            }
            for subscriber in state.subscribers.values { subscriber.yield(update) }
          }
        }
      }
      finish(store, Task.isCancelled ? nil : NSDBError(.zookeeper, "watch of \(path) ended"))
    } catch {
      finish(store, error)
    }
  }

  private func finish(_ store: NSDBStore, _ error: (any Error)?) {
    let subscribers = state.withLock { state -> [Continuation] in
      state.ended = true
      defer { state.subscribers = [:] }
      return Array(state.subscribers.values)
    }
    store.observers.remove(path, self)
    for subscriber in subscribers {
      if let error {
        subscriber.finish(throwing: error)
      } else {
        subscriber.yield(.deleted)
        subscriber.finish()
      }
    }
  }
}
