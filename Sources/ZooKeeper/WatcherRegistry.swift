import CZooKeeper
import Synchronization

/// An event delivered by the C library to a watcher.
struct WatchedEvent: Sendable {
  enum Kind: Sendable {
    case created, deleted, changed, child, session, notWatching, other
  }
  /// Session states, as the C library reports them on session events.
  enum State: Sendable {
    case connected, connecting, expired, authFailed, other
  }
  var kind: Kind
  var state: State
  var path: String?
  /// Set by the client itself when it replaced an expired session: watches of
  /// the old handle will never fire, so their owners must re-read.
  var sessionRenewed = false
  /// Set by the client when its owner closed it: watch streams end.
  var closed = false
}

/// Routes C watcher callbacks to Swift handlers by a small integer id.
///
/// The C library keeps a watcher context until the watch fires, and keeps
/// session watchers for the whole life of the handle; a retained Swift object
/// there would leak or dangle. So the context is only a number: the handler
/// lives in this table, and an event for a number that was unregistered is
/// dropped. The handler runs on the library's completion thread and must not
/// block.
final class WatcherRegistry: Sendable {
  static let shared = WatcherRegistry()

  private struct Entry: Sendable {
    var owner: UInt
    var handler: @Sendable (WatchedEvent) -> Void
  }

  private let entries = Mutex<(next: UInt, table: [UInt: Entry])>((1, [:]))

  func register(owner: UInt, _ handler: @escaping @Sendable (WatchedEvent) -> Void) -> UInt {
    entries.withLock { state in
      let id = state.next
      state.next += 1
      state.table[id] = Entry(owner: owner, handler: handler)
      return id
    }
  }

  func unregister(_ id: UInt) {
    _ = entries.withLock { $0.table.removeValue(forKey: id) }
  }

  func dispatch(_ id: UInt, _ event: WatchedEvent) {
    let handler = entries.withLock { $0.table[id]?.handler }
    handler?(event)
  }

  /// Delivers `event` to every handler of `owner` except `except`.
  func broadcast(owner: UInt, except: UInt, _ event: WatchedEvent) {
    let handlers = entries.withLock { state in
      state.table.filter { $0.value.owner == owner && $0.key != except }.map(\.value.handler)
    }
    for handler in handlers { handler(event) }
  }

  static func context(_ id: UInt) -> UnsafeMutableRawPointer? {
    UnsafeMutableRawPointer(bitPattern: id)
  }
}

/// The one C watcher function: looks the context up in the registry.
let registryWatcher: watcher_fn = { _, type, state, path, context in
  let id = UInt(bitPattern: context)
  let event = WatchedEvent(
    kind: WatchedEvent.Kind(raw: type), state: WatchedEvent.State(raw: state),
    path: path.map { String(cString: $0) })
  WatcherRegistry.shared.dispatch(id, event)
}

extension WatchedEvent.Kind {
  init(raw: Int32) {
    switch raw {
    case midge_zk_event_created(): self = .created
    case midge_zk_event_deleted(): self = .deleted
    case midge_zk_event_changed(): self = .changed
    case midge_zk_event_child(): self = .child
    case midge_zk_event_session(): self = .session
    case midge_zk_event_not_watching(): self = .notWatching
    default: self = .other
    }
  }
}

extension WatchedEvent.State {
  init(raw: Int32) {
    switch raw {
    case midge_zk_state_connected(), midge_zk_state_readonly(): self = .connected
    case midge_zk_state_connecting(), midge_zk_state_associating(),
      midge_zk_state_not_connected():
      self = .connecting
    case midge_zk_state_expired(): self = .expired
    case midge_zk_state_auth_failed(): self = .authFailed
    default: self = .other
    }
  }
}
