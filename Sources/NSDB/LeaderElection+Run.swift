import ZooKeeper

/// The election's single loop: every input (session events, the
/// predecessor's deletion, step-down requests) arrives as a ``Wake`` on one
/// stream and is handled in order, so the candidate node and the published
/// leadership are only ever touched by one task.
extension LeaderElection {
  func run(_ wakes: AsyncStream<Wake>, sessions: AsyncStream<SessionEvent>) async {
    let wake = state.withLock { $0.wakes }
    let forwarder = Task {
      for await event in sessions {
        wake?.yield(.session(event))
        if event == .closed { return }
      }
    }
    var watcher: Task<Void, Never>?
    var needsCheck = true
    defer {
      watcher?.cancel()
      forwarder.cancel()
    }
    var iterator = wakes.makeAsyncIterator()
    while true {
      if needsCheck {
        needsCheck = false
        watcher?.cancel()
        watcher = nil
        do {
          watcher = try await evaluate()
        } catch {
          var meta = metadata
          meta["nsdb.error"] = "\(error)"
          logger.info("leader election re-check failed, retrying", metadata: meta)
          retryLater()
        }
      }
      guard let next = await iterator.next() else { return }
      switch next {
      case .recheck:
        needsCheck = true
      case .session(.suspended):
        if leadership == .leader || leadership == .follower { publish(.suspended) }
      case .session(.reconnected), .session(.connected):
        needsCheck = true
      case .session(.expired):
        // The servers deleted our node with the session: re-join on `connected`.
        watcher?.cancel()
        watcher = nil
        state.withLock { $0.ownNode = nil }
        publish(.out)
      case .session(.closed):
        finish(closed: true)
        return
      case .stepDown(let rejoin, let done):
        watcher?.cancel()
        watcher = nil
        await deleteOwnNode()
        if rejoin {
          needsCheck = true
          done.resume()
        } else {
          finish()
          done.resume()
          return
        }
      }
    }
  }

  /// Leaves the loop: not a candidate, no more wakes. When the client was
  /// `closed` nothing can follow, so the update streams end too.
  func finish(closed: Bool = false) {
    let wakes = state.withLock { state in
      defer {
        state.wakes = nil
        state.ownNode = nil
      }
      return state.wakes
    }
    publish(.out)
    wakes?.finish()
    if closed {
      let subscribers = state.withLock { state in
        defer { state.subscribers = [:] }
        return state.subscribers.values
      }
      for subscriber in subscribers { subscriber.finish() }
    }
    logger.info("left leader election", metadata: metadata)
  }

  /// Asks for another re-check once connected, after a pause (a failed read
  /// must not spin).
  func retryLater() {
    let wakes = state.withLock { $0.wakes }
    Task { [client] in
      try? await Task.sleep(for: .milliseconds(300))
      try? await client.waitUntilConnected(timeout: client.sessionTimeout)
      wakes?.yield(.recheck)
    }
  }

  /// Ensures our candidate node exists, publishes our position, and when we
  /// follow returns the task watching our predecessor.
  func evaluate() async throws -> Task<Void, Never>? {
    var names = try await orderedCandidates()
    var own = state.withLock { $0.ownNode }
    if let node = own, !names.contains(node) { own = nil }
    if own == nil {
      let mine = names.filter { $0.hasPrefix(prefix) }
      if let adopted = mine.first {
        // A create whose outcome was unknown did apply: keep the oldest.
        own = adopted
        for extra in mine.dropFirst() { try? await client.delete(path + "/" + extra) }
      } else {
        own = try await createNode()
      }
      state.withLock { $0.ownNode = own }
      names = try await orderedCandidates()
    }
    guard let own, let index = names.firstIndex(of: own) else {
      // Gone again already (deleted under us): the next check re-creates it.
      state.withLock { $0.ownNode = nil }
      state.withLock { $0.wakes }?.yield(.recheck)
      return nil
    }
    if index == 0 {
      publish(.leader)
      return nil
    }
    publish(.follower)
    let predecessor = path + "/" + names[index - 1]
    let wakes = state.withLock { $0.wakes }
    let changes = client.watchData(predecessor)
    return Task {
      do {
        for try await node in changes where node == .absent {
          wakes?.yield(.recheck)
          return
        }
      } catch {
        wakes?.yield(.recheck)
      }
    }
  }

  /// Creates our candidate node, making the election path if needed, and
  /// returns its name.
  func createNode() async throws -> String {
    let data = Array(candidate.utf8)
    let created: String
    do {
      do {
        created = try await client.create(
          path + "/" + prefix, data: data, mode: .ephemeralSequential)
      } catch let error as ZooKeeperError where error.code == .noNode {
        try await client.createPath(path)
        created = try await client.create(
          path + "/" + prefix, data: data, mode: .ephemeralSequential)
      }
      return String(created.split(separator: "/").last ?? "")
    } catch {
      throw NSDBError.wrap(error, "cannot join leader election \(path)")
    }
  }

  /// Deletes our node, retrying through connection loss: a node left behind
  /// would keep leading. Gives up if the session expires (the node is gone
  /// then anyway) or the client closes.
  func deleteOwnNode() async {
    let own = state.withLock { state in
      defer { state.ownNode = nil }
      return state.ownNode
    }
    let mine = (try? await orderedCandidates().filter { $0.hasPrefix(prefix) }) ?? []
    for name in Set(mine + (own.map { [$0] } ?? [])) {
      let node = path + "/" + name
      attempts: for _ in 0..<100 {
        do {
          try await client.delete(node)
          break attempts
        } catch let error as ZooKeeperError where error.isTransient || error.code == .outcomeUnknown
        {
          try? await client.waitUntilConnected(timeout: client.sessionTimeout)
        } catch {
          break attempts  // gone, or the session/client is gone with it
        }
      }
    }
    logger.info("stepped down from leader election", metadata: metadata)
  }
}
