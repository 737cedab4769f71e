import CZooKeeper
import Logging

extension ZooKeeperClient {
  /// A stream of this client's session events, from now on.
  public func sessionEvents() -> AsyncStream<SessionEvent> {
    let (stream, continuation) = AsyncStream<SessionEvent>.makeStream()
    let token: UInt64? = state.withLock { state in
      guard state.phase != .closed else { return nil }
      let token = state.token()
      state.subscribers[token] = continuation
      return token
    }
    guard let token else {
      continuation.yield(.closed)
      continuation.finish()
      return stream
    }
    continuation.onTermination = { [weak self] _ in
      _ = self?.state.withLock { $0.subscribers.removeValue(forKey: token) }
    }
    return stream
  }

  /// Registers `hook` to run each time a new session replaces an expired one,
  /// once it is connected: the place to re-create ephemeral nodes.
  /// Returns a token for ``removeNewSessionHook(_:)``.
  @discardableResult
  public func onNewSession(_ hook: @escaping @Sendable (ZooKeeperClient) async -> Void) -> UInt64 {
    state.withLock { state in
      let token = state.token()
      state.newSessionHooks[token] = hook
      return token
    }
  }

  public func removeNewSessionHook(_ token: UInt64) {
    _ = state.withLock { $0.newSessionHooks.removeValue(forKey: token) }
  }

  /// Waits until a session is established and connected (returns at once if it is).
  public func waitUntilConnected(timeout: Duration? = nil) async throws {
    try await withCheckedThrowingContinuation {
      (continuation: CheckedContinuation<Void, any Error>) in
      let outcome: Result<UInt64?, ZooKeeperError> = state.withLock { state in
        switch state.phase {
        case .connected: return .success(nil)
        case .closed: return .failure(ZooKeeperError(.closed, "the client was closed"))
        default:
          let token = state.token()
          state.connectWaiters[token] = continuation
          return .success(token)
        }
      }
      switch outcome {
      case .success(nil): continuation.resume()
      case .success(let token?):
        guard let timeout else { return }
        Task { [weak self] in
          try? await Task.sleep(for: timeout)
          let waiter = self?.state.withLock { $0.connectWaiters.removeValue(forKey: token) }
          waiter?.resume(
            throwing: ZooKeeperError(
              .timedOut,
              "no ZooKeeper session within \(timeout) (servers: \(self?.connectString ?? "?"))"))
        }
      case .failure(let error): continuation.resume(throwing: error)
      }
    }
  }

  /// Handles a session event of the handle of `generation` (on the library's thread).
  func sessionEvent(_ event: WatchedEvent, generation: UInt64) {
    guard event.kind == .session else { return }
    var events: [SessionEvent] = []
    var waiters: [CheckedContinuation<Void, any Error>] = []
    var hooks: [@Sendable (ZooKeeperClient) async -> Void] = []
    var renew = false
    let subscribers = state.withLock { state -> [AsyncStream<SessionEvent>.Continuation] in
      guard state.generation == generation, state.phase != .closed else { return [] }
      switch event.state {
      case .connected:
        let id = state.handle.flatMap { zoo_client_id($0.raw)?.pointee.client_id } ?? 0
        switch state.phase {
        case .connecting(let afterExpiry):
          events.append(.connected(sessionID: id))
          if afterExpiry { hooks = Array(state.newSessionHooks.values) }
        case .suspended:
          events.append(.reconnected(sessionID: id))
        default: break
        }
        state.phase = .connected
        state.sessionID = id
        waiters = Array(state.connectWaiters.values)
        state.connectWaiters = [:]
      case .connecting:
        if state.phase == .connected {
          state.phase = .suspended
          events.append(.suspended(sessionID: state.sessionID))
        }
      case .expired:
        events.append(.expired(sessionID: state.sessionID))
        state.phase = .renewing
        renew = true
      case .authFailed, .other:
        break
      }
      return Array(state.subscribers.values)
    }
    for sessionEvent in events {
      logger.info("zookeeper session event", metadata: ["zk.event": "\(sessionEvent)"])
      for subscriber in subscribers { subscriber.yield(sessionEvent) }
    }
    for waiter in waiters { waiter.resume() }
    if renew {
      Task { await self.renewSession(from: generation) }
    }
    if !hooks.isEmpty {
      Task {
        for hook in hooks { await hook(self) }
      }
    }
  }

  /// Replaces the dead handle of an expired session with a new one.
  func renewSession(from generation: UInt64) async {
    let taken = state.withLock { state -> (Handle?, UInt)? in
      guard state.generation == generation, state.phase == .renewing else { return nil }
      defer {
        state.handle = nil
        state.generation += 1
      }
      return (state.handle, state.sessionWatcherID)
    }
    guard let (old, oldWatcher) = taken else { return }
    WatcherRegistry.shared.unregister(oldWatcher)
    if let old { zookeeper_close(old.raw) }
    // Watches of the old handle will never fire: tell their owners to re-read.
    WatcherRegistry.shared.broadcast(
      owner: ownerID, except: 0, WatchedEvent(kind: .session, state: .expired, sessionRenewed: true)
    )
    for attempt in 0..<Int.max {
      let stillRenewing = state.withLock { state in
        guard state.phase != .closed else { return false }
        state.phase = .connecting(afterExpiry: true)
        return true
      }
      guard stillRenewing else { return }
      do {
        try openHandle(generation: generation + 1)
        return
      } catch {
        logger.info(
          "cannot open a new ZooKeeper handle, retrying",
          metadata: ["zk.error": "\(error)", "zk.attempt": "\(attempt)"])
        try? await Task.sleep(for: .milliseconds(200))
      }
    }
  }

  /// Expires this client's own session, as if its host had been cut off,
  /// and waits until the client runs on a new one (for tests and drills).
  ///
  /// One attempt of ``expireSession(_:connectString:timeout:)`` can lose a
  /// race: attaching the second handle moves the session to it, and if this
  /// client reconnects and takes the session back before the second handle's
  /// close arrives, the server refuses the close ("session moved") and the
  /// session survives. So this retries, up to `attempts` times.
  public func forceExpiry(attempts: Int = 5, timeout: Duration = .seconds(10)) async throws {
    let old = sessionID
    for _ in 0..<attempts {
      if let credentials, credentials.sessionID == old {
        try await Self.expireSession(credentials, connectString: connectString, timeout: timeout)
      }
      let deadline = ContinuousClock.now + sessionTimeout * 2
      while ContinuousClock.now < deadline {
        if sessionID != old && isConnected { return }
        try await Task.sleep(for: .milliseconds(20))
      }
    }
    throw ZooKeeperError(.timedOut, "session \(old) could not be expired in \(attempts) attempts")
  }

  /// Forces the servers to expire a session, as a lost host would: attaches a
  /// second handle to the session with its credentials, then closes it. The
  /// session's owner sees `expired` on its next contact. For tests and drills.
  public static func expireSession(
    _ credentials: SessionCredentials, connectString: String, timeout: Duration = .seconds(10)
  ) async throws {
    var clientID = clientid_t()
    clientID.client_id = credentials.sessionID
    withUnsafeMutableBytes(of: &clientID.passwd) { raw in
      for (index, byte) in credentials.password.prefix(raw.count).enumerated() {
        raw[index] = byte
      }
    }
    let (stream, continuation) = AsyncStream<WatchedEvent>.makeStream()
    let watcherID = WatcherRegistry.shared.register(owner: 0) { continuation.yield($0) }
    defer { WatcherRegistry.shared.unregister(watcherID) }
    let raw = withUnsafePointer(to: &clientID) { pointer in
      zookeeper_init2(
        connectString, registryWatcher, Int32(2000), pointer,
        WatcherRegistry.context(watcherID), 0, ZooKeeperLog.callback)
    }
    guard let raw else {
      throw ZooKeeperError(.invalidArgument, "cannot create a handle", cause: SystemError.current())
    }
    let handle = Handle(raw: raw)
    let connected = await withTaskGroup(of: Bool.self) { group in
      group.addTask {
        for await event in stream where event.kind == .session {
          if event.state == .connected { return true }
          if event.state == .expired { return false }
        }
        return false
      }
      group.addTask {
        try? await Task.sleep(for: timeout)
        return false
      }
      let first = await group.next() ?? false
      group.cancelAll()
      continuation.finish()
      return first
    }
    zookeeper_close(handle.raw)
    guard connected else {
      throw ZooKeeperError(.timedOut, "could not attach to session \(credentials.sessionID)")
    }
  }
}
