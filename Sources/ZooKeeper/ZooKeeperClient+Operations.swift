import CZooKeeper

extension ZooKeeperClient {
  /// Makes one asynchronous C call and awaits its completion.
  ///
  /// `start` runs under the state lock with the live handle and the context
  /// to pass as the completion's `data`. If the library refuses the call
  /// synchronously, its completion never runs: the box is released here and
  /// `refused` runs so the caller can free what it had pinned for the call.
  func submit<T: Sendable>(
    path: String?, isWrite: Bool, refused: () -> Void = {},
    _ start: (OpaquePointer, UnsafeRawPointer) -> Int32,
    decode: @escaping @Sendable (Reply) throws -> T
  ) async throws -> T {
    do {
      try await waitForHandle()
    } catch {
      refused()
      throw error
    }
    return try await withCheckedThrowingContinuation { continuation in
      let box = ReplyBox { reply in
        continuation.resume(with: Result { try decode(reply) })
      }
      let context = UnsafeRawPointer(Unmanaged.passRetained(box).toOpaque())
      let rc: Int32? = state.withLock { state in
        guard let handle = state.handle else { return nil }
        return start(handle.raw, context)
      }
      guard rc != 0 else { return }
      Unmanaged<ReplyBox>.fromOpaque(context).release()
      refused()
      if let rc {
        continuation.resume(
          throwing: ZooKeeperError(returnCode: rc, path: path, isWrite: isWrite))
      } else {
        // Nothing was sent: not "outcome unknown", even for a write.
        continuation.resume(
          throwing: ZooKeeperError(.connectionLoss, "not connected to ZooKeeper", path: path))
      }
    }
  }

  /// Between an expiry and the new handle there is no handle for a moment:
  /// wait for it (bounded by the session timeout) rather than fail at once.
  func waitForHandle() async throws {
    let deadline = ContinuousClock.now + sessionTimeout
    while true {
      let (ready, closed) = state.withLock { ($0.handle != nil, $0.phase == .closed) }
      if closed { throw ZooKeeperError(.closed, "the client was closed") }
      if ready { return }
      if ContinuousClock.now >= deadline {
        throw ZooKeeperError(.connectionLoss, "no ZooKeeper handle (session being renewed)")
      }
      try await Task.sleep(for: .milliseconds(5))
    }
  }

  static func check(_ reply: Reply, path: String?, isWrite: Bool) throws {
    let rc = reply.returnCode
    if rc != 0 { throw ZooKeeperError(returnCode: rc, path: path, isWrite: isWrite) }
  }

  /// Sets the ACL nodes this client creates get, by path (nil: the open ACL).
  public func setACLPolicy(_ policy: (@Sendable (String) -> [ZooKeeperACL])?) {
    state.withLock { $0.aclPolicy = policy }
  }

  /// The ACL a node created at `path` gets.
  public func acl(forCreating path: String) -> [ZooKeeperACL] {
    state.withLock { $0.aclPolicy }?(path) ?? ZooKeeperACL.openUnsafe
  }

  /// Creates a node and returns its path (with the sequence suffix for
  /// sequential modes). Its ACL is `acl`, or the client's policy's for the path.
  @discardableResult
  public func create(
    _ path: String, data: [UInt8] = [], mode: CreateMode = .persistent,
    acl: [ZooKeeperACL]? = nil
  ) async throws -> String {
    let rawMode = mode.raw
    let entries = acl ?? self.acl(forCreating: path)
    guard let vector = ZooKeeperACL.vector(entries) else {
      throw ZooKeeperError(.systemError, "out of memory building an ACL", path: path)
    }
    defer { midge_zk_acl_free(vector) }
    return try await submit(path: path, isWrite: true) { handle, context in
      withCBytes(data) { bytes, length in
        zoo_acreate(handle, path, bytes, length, vector, rawMode, Completions.string, context)
      }
    } decode: { reply in
      try Self.check(reply, path: path, isWrite: true)
      guard case .string(_, let created?) = reply else { return path }
      return created
    }
  }

  /// Reads a node's data and stat.
  public func get(_ path: String) async throws -> NodeData {
    try await submit(path: path, isWrite: false) { handle, context in
      zoo_aget(handle, path, 0, Completions.data, context)
    } decode: { reply in
      try Self.decodeData(reply, path: path)
    }
  }

  /// Replaces a node's data if its version is `version` (-1: any version).
  @discardableResult
  public func set(_ path: String, data: [UInt8], version: Int32 = -1) async throws -> NodeStat {
    try await submit(path: path, isWrite: true) { handle, context in
      withCBytes(data) { bytes, length in
        zoo_aset(handle, path, bytes, max(length, 0), version, Completions.stat, context)
      }
    } decode: { reply in
      try Self.check(reply, path: path, isWrite: true)
      guard case .stat(_, let stat?) = reply else {
        throw ZooKeeperError(.systemError, "set returned no stat", path: path)
      }
      return stat
    }
  }

  /// Deletes a node if its version is `version` (-1: any version).
  public func delete(_ path: String, version: Int32 = -1) async throws {
    try await submit(path: path, isWrite: true) { handle, context in
      zoo_adelete(handle, path, version, Completions.void, context)
    } decode: { reply in
      try Self.check(reply, path: path, isWrite: true)
    }
  }

  /// The node's stat, or nil when it does not exist.
  public func exists(_ path: String) async throws -> NodeStat? {
    try await submit(path: path, isWrite: false) { handle, context in
      zoo_aexists(handle, path, 0, Completions.stat, context)
    } decode: { reply in
      try Self.decodeExists(reply, path: path)
    }
  }

  /// The node's children (names, sorted) and its stat.
  public func children(_ path: String) async throws -> NodeChildren {
    try await submit(path: path, isWrite: false) { handle, context in
      zoo_aget_children2(handle, path, 0, Completions.children, context)
    } decode: { reply in
      try Self.decodeChildren(reply, path: path)
    }
  }

  /// Creates `path` and any missing parents as persistent nodes; an existing
  /// node is fine. Returns without error if the whole path exists.
  ///
  /// Existing parts are found with `exists` first: on a secured tree a create under a
  /// parent the client may not create in is refused as unauthorised even when the node
  /// is already there.
  public func createPath(_ path: String, data: [UInt8] = []) async throws {
    let parts = path.split(separator: "/")
    var current = ""
    var missing = false
    for (index, part) in parts.enumerated() {
      current += "/" + part
      if !missing, try await exists(current) != nil { continue }
      missing = true
      do {
        try await create(current, data: index == parts.count - 1 ? data : [])
      } catch let error as ZooKeeperError where error.code == .nodeExists {
        continue
      }
    }
  }

  /// A node's ACL and stat.
  public func getACL(_ path: String) async throws -> (acl: [ZooKeeperACL], stat: NodeStat) {
    try await submit(path: path, isWrite: false) { handle, context in
      zoo_aget_acl(handle, path, Completions.acl, context)
    } decode: { reply in
      try Self.check(reply, path: path, isWrite: false)
      guard case .acl(_, let acl, let stat?) = reply else {
        throw ZooKeeperError(.systemError, "get ACL returned no stat", path: path)
      }
      return (acl, stat)
    }
  }

  /// Replaces a node's ACL if its ACL version is `version` (-1: any version).
  public func setACL(_ path: String, _ acl: [ZooKeeperACL], version: Int32 = -1) async throws {
    guard let vector = ZooKeeperACL.vector(acl) else {
      throw ZooKeeperError(.systemError, "out of memory building an ACL", path: path)
    }
    defer { midge_zk_acl_free(vector) }
    try await submit(path: path, isWrite: true) { handle, context in
      zoo_aset_acl(handle, path, version, vector, Completions.void, context)
    } decode: { reply in
      try Self.check(reply, path: path, isWrite: true)
    }
  }

  /// Deletes `path` and everything below it (not atomic; for tests and tools).
  public func deleteRecursively(_ path: String) async throws {
    let children: NodeChildren
    do {
      children = try await self.children(path)
    } catch let error as ZooKeeperError where error.code == .noNode {
      return
    }
    for child in children.children {
      try await deleteRecursively(path == "/" ? "/" + child : path + "/" + child)
    }
    guard path != "/" else { return }
    do {
      try await delete(path)
    } catch let error as ZooKeeperError where error.code == .noNode {
      return
    }
  }

  static func decodeData(_ reply: Reply, path: String) throws -> NodeData {
    try check(reply, path: path, isWrite: false)
    guard case .data(_, let bytes, let stat?) = reply else {
      throw ZooKeeperError(.systemError, "get returned no stat", path: path)
    }
    return NodeData(data: bytes, stat: stat)
  }

  static func decodeExists(_ reply: Reply, path: String) throws -> NodeStat? {
    if reply.returnCode == -101 { return nil }
    try check(reply, path: path, isWrite: false)
    guard case .stat(_, let stat) = reply else { return nil }
    return stat
  }

  static func decodeChildren(_ reply: Reply, path: String) throws -> NodeChildren {
    try check(reply, path: path, isWrite: false)
    guard case .children(_, let names, let stat?) = reply else {
      throw ZooKeeperError(.systemError, "children returned no stat", path: path)
    }
    return NodeChildren(children: names, stat: stat)
  }
}
