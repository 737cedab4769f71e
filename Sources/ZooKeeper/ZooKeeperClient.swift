import CZooKeeper
import Logging
import Synchronization

/// An async ZooKeeper client over the multi-threaded C library.
///
/// Design
/// ------
/// The C handle (`zhandle_t`) is owned by this one `Sendable` class. Every
/// call into the library that uses the handle is made while holding `state`'s
/// lock, and the handle is closed only after it was taken out of `state`, so
/// no call can race a close. The lock is never held while the library could
/// call back into us (`zookeeper_close` joins the library's threads, whose
/// callbacks take the lock).
///
/// Requests use the library's asynchronous API: each call hands the library a
/// retained ``ReplyBox`` whose completion resumes a continuation. Watches use
/// integer contexts routed through ``WatcherRegistry``.
///
/// Sessions: the library reconnects by itself within the session timeout
/// (`suspended` → `reconnected`). When the servers expire the session the
/// handle is dead; the client closes it, opens a new one (a new *generation*),
/// reports `expired` then `connected`, and runs the hooks registered with
/// ``onNewSession(_:)`` so owners re-create their ephemeral nodes.
///
/// Access: the client authenticates every handle it opens with its digest identities
/// (`authentication`), before any request, so a renewed session is the same identity.
/// Nodes it creates get the ACL its policy gives for their path (`setACLPolicy`; by
/// default ZooKeeper's open ACL), unless a call names one.
public final class ZooKeeperClient: Sendable {
  public let connectString: String
  public let sessionTimeout: Duration
  /// The identities every handle authenticates as.
  public let authentication: [DigestIdentity]
  let logger: Logger
  /// Identifies this client's watchers in the shared registry.
  let ownerID: UInt

  struct Handle: @unchecked Sendable {
    let raw: OpaquePointer
  }

  enum Phase: Sendable, Equatable {
    /// Connecting a new handle; `afterExpiry` when it replaces an expired session.
    case connecting(afterExpiry: Bool)
    case connected
    case suspended
    case renewing
    case closed
  }

  struct State: ~Copyable {
    var handle: Handle?
    var generation: UInt64 = 0
    var sessionWatcherID: UInt = 0
    var phase: Phase = .connecting(afterExpiry: false)
    var sessionID: Int64 = 0
    var nextToken: UInt64 = 1
    var connectWaiters: [UInt64: CheckedContinuation<Void, any Error>] = [:]
    var subscribers: [UInt64: AsyncStream<SessionEvent>.Continuation] = [:]
    var newSessionHooks: [UInt64: @Sendable (ZooKeeperClient) async -> Void] = [:]
    var aclPolicy: (@Sendable (String) -> [ZooKeeperACL])?

    mutating func token() -> UInt64 {
      defer { nextToken += 1 }
      return nextToken
    }
  }

  let state = Mutex(State())

  private static let owners = Atomic<UInt>(1)

  /// Creates the client and starts connecting; use ``connect(to:sessionTimeout:logger:timeout:)``
  /// to also wait for the first session.
  public init(
    connectString: String, sessionTimeout: Duration = .seconds(10),
    authentication: [DigestIdentity] = [],
    logger: Logger = Logger(label: "midge.zookeeper")
  ) throws {
    self.connectString = connectString
    self.sessionTimeout = sessionTimeout
    self.authentication = authentication
    self.logger = logger
    self.ownerID = Self.owners.wrappingAdd(1, ordering: .relaxed).oldValue
    guard !connectString.isEmpty else {
      throw ZooKeeperError(.invalidArgument, "empty connect string")
    }
    ZooKeeperLog.install(logger)
    try openHandle(generation: 0)
  }

  /// Connects and waits until the first session is established.
  public static func connect(
    to connectString: String, sessionTimeout: Duration = .seconds(10),
    authentication: [DigestIdentity] = [],
    logger: Logger = Logger(label: "midge.zookeeper"), timeout: Duration? = nil
  ) async throws -> ZooKeeperClient {
    let client = try ZooKeeperClient(
      connectString: connectString, sessionTimeout: sessionTimeout,
      authentication: authentication, logger: logger)
    do {
      try await client.waitUntilConnected(timeout: timeout ?? sessionTimeout * 2)
    } catch {
      await client.close()
      throw error
    }
    return client
  }

  deinit {
    let handle = state.withLock { state -> Handle? in
      defer { state.handle = nil }
      WatcherRegistry.shared.unregister(state.sessionWatcherID)
      return state.handle
    }
    if let handle { zookeeper_close(handle.raw) }
  }

  var timeoutMilliseconds: Int32 {
    let (seconds, attoseconds) = sessionTimeout.components
    return Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000)
  }

  /// Opens a C handle for `generation` and installs it.
  func openHandle(generation: UInt64) throws {
    let watcherID = WatcherRegistry.shared.register(owner: ownerID) { [weak self] event in
      self?.sessionEvent(event, generation: generation)
    }
    let raw = zookeeper_init2(
      connectString, registryWatcher, timeoutMilliseconds, nil,
      WatcherRegistry.context(watcherID), 0, ZooKeeperLog.callback)
    guard let raw else {
      WatcherRegistry.shared.unregister(watcherID)
      throw ZooKeeperError(
        .invalidArgument, "cannot create a ZooKeeper handle for '\(connectString)'",
        cause: SystemError.current())
    }
    // Queued before any request: the server authenticates the connection first.
    for identity in authentication {
      let credential = identity.user + ":" + identity.secret
      let rc = credential.withCString { bytes in
        zoo_add_auth(raw, "digest", bytes, Int32(strlen(bytes)), nil, nil)
      }
      if rc != 0 {
        logger.info(
          "cannot queue ZooKeeper authentication",
          metadata: ["zk.user": "\(identity.user)", "zk.rc": "\(rc)"])
      }
    }
    let orphan = state.withLock { state -> Handle? in
      guard state.phase != .closed, state.generation == generation else { return Handle(raw: raw) }
      state.handle = Handle(raw: raw)
      state.sessionWatcherID = watcherID
      return nil
    }
    if let orphan {
      WatcherRegistry.shared.unregister(watcherID)
      zookeeper_close(orphan.raw)
    }
  }

  /// The current session's id and password, while connected.
  public var credentials: SessionCredentials? {
    state.withLock { state in
      guard state.phase == .connected, let handle = state.handle,
        let id = zoo_client_id(handle.raw)
      else { return nil }
      var password = id.pointee.passwd
      let bytes = withUnsafeBytes(of: &password) { Array($0) }
      return SessionCredentials(sessionID: id.pointee.client_id, password: bytes)
    }
  }

  /// The server ("host:port") the handle is connected to, if any.
  public var currentServer: String? {
    state.withLock { state in
      guard state.phase == .connected, let handle = state.handle,
        let server = zoo_get_current_server(handle.raw)
      else { return nil }
      return String(cString: server)
    }
  }

  /// The id of the current (or last) session, 0 before the first one.
  public var sessionID: Int64 { state.withLock { $0.sessionID } }

  /// True while a session is established and the connection is up.
  public var isConnected: Bool { state.withLock { $0.phase == .connected } }

  /// Closes the session: its ephemeral nodes disappear at once, pending calls
  /// fail with `.closed`, watch streams end, the session stream yields `.closed`.
  public func close() async {
    let (handle, waiters, subscribers, watcherID) = state.withLock { state in
      defer {
        state.handle = nil
        state.connectWaiters = [:]
        state.subscribers = [:]
        state.newSessionHooks = [:]
        state.phase = .closed
      }
      return (state.handle, state.connectWaiters, state.subscribers, state.sessionWatcherID)
    }
    WatcherRegistry.shared.unregister(watcherID)
    if let handle { zookeeper_close(handle.raw) }
    let closed = ZooKeeperError(.closed, "the client was closed")
    for waiter in waiters.values { waiter.resume(throwing: closed) }
    for subscriber in subscribers.values {
      subscriber.yield(.closed)
      subscriber.finish()
    }
    WatcherRegistry.shared.broadcast(
      owner: ownerID, except: 0, WatchedEvent(kind: .session, state: .other, closed: true))
    logger.debug("zookeeper client closed")
  }
}
