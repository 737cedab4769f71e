import CZooKeeper

/// One operation of an atomic ``ZooKeeperClient/multi(_:)`` transaction.
public enum Operation: Sendable, Hashable {
  case create(String, data: [UInt8] = [], mode: CreateMode = .persistent)
  case delete(String, version: Int32 = -1)
  case set(String, data: [UInt8], version: Int32 = -1)
  /// Fails the transaction unless the node is at `version`.
  case check(String, version: Int32)

  public var path: String {
    switch self {
    case .create(let path, _, _), .delete(let path, _), .set(let path, _, _),
      .check(let path, _):
      return path
    }
  }
}

/// The result of one operation of a successful transaction.
public enum OperationResult: Sendable, Hashable {
  case created(path: String)
  case deleted
  case set(NodeStat)
  case checked
}

/// The C multi request, pinned in C memory until its completion has run.
struct MultiRequest: @unchecked Sendable {
  let raw: UnsafeMutablePointer<midge_zk_multi>
}

extension ZooKeeperClient {
  /// Applies `operations` atomically: all of them or none.
  ///
  /// On failure the error's `failedOperation` is the index of the operation
  /// that failed and its `code` says why (the others are rolled back). A lost
  /// connection is `.outcomeUnknown`: the transaction may have committed.
  public func multi(_ operations: [Operation]) async throws -> [OperationResult] {
    guard !operations.isEmpty else { return [] }
    guard let raw = midge_zk_multi_alloc(Int32(operations.count)) else {
      throw ZooKeeperError(.systemError, "out of memory building a multi")
    }
    let request = MultiRequest(raw: raw)
    for (index, operation) in operations.enumerated() {
      let slot = Int32(index)
      switch operation {
      case .create(let path, let data, let mode):
        let acl = self.acl(forCreating: path)
        let vector = acl == ZooKeeperACL.openUnsafe ? nil : ZooKeeperACL.vector(acl)
        data.withUnsafeBytes { bytes in
          midge_zk_multi_create(
            raw, slot, path, bytes.baseAddress, Int32(bytes.count), mode.raw, vector)
        }
      case .delete(let path, let version):
        midge_zk_multi_delete(raw, slot, path, version)
      case .set(let path, let data, let version):
        data.withUnsafeBytes { bytes in
          midge_zk_multi_set(raw, slot, path, bytes.baseAddress, Int32(bytes.count), version)
        }
      case .check(let path, let version):
        midge_zk_multi_check(raw, slot, path, version)
      }
    }
    let ops = operations
    let start: (OpaquePointer, UnsafeRawPointer) -> Int32 = { handle, context in
      midge_zk_multi_submit(handle, raw, Completions.void, context)
    }
    let decode: @Sendable (Reply) throws -> [OperationResult] = { reply in
      defer { midge_zk_multi_free(request.raw) }
      return try Self.decodeMulti(reply.returnCode, request: request, operations: ops)
    }
    return try await submit(
      path: nil, isWrite: true, refused: { midge_zk_multi_free(raw) }, start, decode: decode)
  }

  static func decodeMulti(_ rc: Int32, request: MultiRequest, operations: [Operation])
    throws -> [OperationResult]
  {
    let raw = request.raw
    if rc != 0 {
      for index in operations.indices {
        let err = midge_zk_multi_result_err(raw, Int32(index))
        if err != 0 && err != -2 {
          throw ZooKeeperError(
            returnCode: err, path: operations[index].path, isWrite: true, failedOperation: index)
        }
      }
      throw ZooKeeperError(returnCode: rc, path: nil, isWrite: true)
    }
    return operations.indices.map { index in
      switch operations[index] {
      case .create:
        let path = midge_zk_multi_result_path(raw, Int32(index)).map { String(cString: $0) }
        return .created(path: path ?? operations[index].path)
      case .delete: return .deleted
      case .set: return .set(NodeStat(midge_zk_multi_result_stat(raw, Int32(index))))
      case .check: return .checked
      }
    }
  }
}
