import Logging
import Synchronization
import Topology
import ZooKeeper

/// The typed object store of the virtual topology on ZooKeeper.
///
/// Objects live at `<root>/v1/models/<Type>/<id>` (``NSDBPaths``), encoded by
/// ``ModelCodec``. Every write goes through a ``Transaction`` so that both
/// sides of every binding change in the same ZooKeeper `multi`: no reader
/// ever sees a port on a bridge that does not list it.
public final class NSDBStore: Sendable {
  public let client: ZooKeeperClient
  public let paths: NSDBPaths
  let logger: Logger
  /// How many times a transaction body runs before a conflict is reported
  /// (at least once: a smaller value given to `init` counts as 1, since
  /// `1...0` would trap in ``transaction(_:)``).
  public let maxAttempts: Int
  let observers: ObserverRegistry
  let bindings: [Binding]
  /// The largest request a transaction may send: ZooKeeper's `jute.maxbuffer`, which
  /// a server applies to every request it reads (1 MiB - 1 by default). A larger
  /// transaction fails with `.tooLarge` before anything is sent.
  public let maxRequestBytes: Int
  /// The secured tree's policy, once `useAccess` found one (nil: an open tree).
  let accessPolicy = Mutex<NSDBAccess?>(nil)

  /// ZooKeeper's default `jute.maxbuffer`: 0xfffff bytes.
  public static let defaultMaxRequestBytes = 0xfffff

  public convenience init(
    client: ZooKeeperClient, root: String = "/midge", maxAttempts: Int = 8,
    logger: Logger = Logger(label: "midge.nsdb"),
    maxRequestBytes: Int = NSDBStore.defaultMaxRequestBytes
  ) {
    self.init(
      client: client, root: root, maxAttempts: maxAttempts, logger: logger,
      bindings: Binding.standard, maxRequestBytes: maxRequestBytes)
  }

  init(
    client: ZooKeeperClient, root: String, maxAttempts: Int, logger: Logger,
    bindings: [Binding], maxRequestBytes: Int = NSDBStore.defaultMaxRequestBytes
  ) {
    self.maxRequestBytes = maxRequestBytes
    self.bindings = bindings
    self.client = client
    self.paths = NSDBPaths(root: root)
    self.maxAttempts = max(1, maxAttempts)
    self.logger = logger
    self.observers = ObserverRegistry()
  }

  /// Creates the directory nodes of the layout that are missing (idempotent).
  ///
  /// Reads first, and writes only what is missing: every agent runs this at start, and a
  /// create of a node that exists is still a write that the ensemble's leader orders and
  /// commits (as an error). Creating the whole layout blindly cost each agent about fifty
  /// sequential writes; with 32 agents starting together that was half a second each.
  public func setUp() async throws {
    let missing = try await missingLayout()
    do {
      for path in missing {
        do {
          try await client.create(path)
        } catch let error as ZooKeeperError where error.code == .nodeExists {
          continue  // another client made it meanwhile
        }
      }
    } catch {
      throw NSDBError.zookeeper(error, "creating the NSDB layout under \(paths.root)")
    }
  }

  /// The nodes of the layout that do not exist yet, parents first: what a transaction
  /// on a fresh root creates in its own multi (so a refused one leaves nothing behind).
  func missingLayout() async throws -> [String] {
    var wanted: [String] = []
    var prefix = ""
    for component in paths.root.split(separator: "/") {
      prefix += "/" + component
      wanted.append(prefix)
    }
    wanted += [paths.version, paths.models]
    wanted += ModelType.allCases.map { paths.models($0) }
    wanted += [paths.state, paths.election]
    // The state directories agents create under: on a secured tree only the
    // administrator can make them (NSDBAccess).
    wanted += ["Host", "Port", "Bridge", "Router", "nat"].map { paths.state + "/" + $0 }
    var missing: [String] = []
    do {
      for path in wanted where try await client.exists(path) == nil {
        missing.append(path)
      }
    } catch {
      throw NSDBError.zookeeper(error, "reading the NSDB layout under \(paths.root)")
    }
    return missing
  }

  /// The size of the request ZooKeeper reads for `operations` as one multi, in bytes:
  /// the request header and, per operation, its multi header and jute record (paths and
  /// data as length-prefixed bytes, the ACL of a create: by default the open one).
  public static func requestSize(
    _ operations: [Operation], acl: (String) -> [ZooKeeperACL] = { _ in ZooKeeperACL.openUnsafe }
  ) -> Int {
    let header = 4 + 4  // xid, type
    let multiHeader = 4 + 1 + 4  // type, done, err
    var size = header + multiHeader  // the closing header
    for operation in operations {
      size += multiHeader
      switch operation {
      case .create(let path, let data, _):
        // The ACL: a count, then per entry its permissions, scheme and id.
        let entries = acl(path).reduce(0) {
          $0 + 4 + 4 + $1.scheme.utf8.count + 4 + $1.id.utf8.count
        }
        size += 4 + path.utf8.count + 4 + data.count + 4 + entries + 4
      case .set(let path, let data, _):
        size += 4 + path.utf8.count + 4 + data.count + 4
      case .delete(let path, _), .check(let path, _):
        size += 4 + path.utf8.count + 4
      }
    }
    return size
  }

  func checkRequestSize(_ operations: [Operation]) throws(NSDBError) {
    let size = Self.requestSize(operations) { client.acl(forCreating: $0) }
    guard size > maxRequestBytes else { return }
    throw NSDBError(
      .tooLarge,
      "the transaction is \(size) bytes in \(operations.count) operations, over ZooKeeper's limit of \(maxRequestBytes) bytes for one request (jute.maxbuffer); nothing was sent"
    )
  }

  /// Runs `body` in a transaction and commits it atomically, re-running it on
  /// fresh reads when a concurrent writer got there first (at most
  /// `maxAttempts` times; then `.conflict`). Returns what `body` returns.
  @discardableResult
  public func transaction<R: Sendable>(
    _ body: (inout Transaction) async throws -> R
  ) async throws -> R {
    var lastError: (any Error)?
    for attempt in 1...maxAttempts {
      var transaction = Transaction(store: self, optimisticCreates: attempt == 1)
      let result = try await body(&transaction)
      guard let operations = try transaction.operations() else { return result }
      try checkRequestSize(operations)
      do {
        _ = try await client.multi(operations)
        return result
      } catch let error as ZooKeeperError
        where [.badVersion, .nodeExists, .noNode].contains(error.code)
      {
        lastError = error
        logger.debug(
          "nsdb transaction conflict, retrying",
          metadata: ["nsdb.attempt": "\(attempt)", "nsdb.error": "\(error)"])
        try await Task.sleep(for: .milliseconds(Int.random(in: 1...(5 * attempt))))
      } catch let error as ZooKeeperError where error.code == .noAuth {
        let path = error.failedOperation.flatMap {
          operations.indices.contains($0) ? operations[$0].path : nil
        }
        throw NSDBError.notAuthorised(error, path: path, "committing a transaction")
      } catch {
        throw NSDBError.zookeeper(error, "committing a transaction")
      }
    }
    throw NSDBError(
      .conflict, "transaction gave up after \(maxAttempts) conflicting attempts", cause: lastError)
  }

  // MARK: Single-object conveniences

  public func create<T: WireCodable>(_ object: T) async throws {
    try await transaction { try await $0.create(object) }
  }

  public func update<T: WireCodable>(_ object: T) async throws {
    try await transaction { try await $0.update(object) }
  }

  public func delete<T: WireCodable>(_ type: T.Type, _ id: ID) async throws {
    try await transaction { try await $0.delete(type, id) }
  }

  /// Reads one object; `.notFound` if absent, `.corrupt` if undecodable.
  public func get<T: WireCodable>(_ type: T.Type, _ id: ID) async throws -> T {
    let path = paths.object(T.modelType, id)
    let node: NodeData
    do {
      node = try await client.get(path)
    } catch let error as ZooKeeperError where error.code == .noNode {
      throw NSDBError(.notFound, "\(T.modelType.rawValue) \(id) does not exist")
    } catch {
      throw NSDBError.zookeeper(error, "reading \(T.modelType.rawValue) \(id)")
    }
    return try ModelCodec.decode(T.self, node.data, id: id)
  }

  public func exists<T: WireCodable>(_ type: T.Type, _ id: ID) async throws -> Bool {
    do {
      return try await client.exists(paths.object(T.modelType, id)) != nil
    } catch {
      throw NSDBError.zookeeper(error, "checking \(T.modelType.rawValue) \(id)")
    }
  }

  /// The ids of every stored object of a type.
  public func ids<T: WireCodable>(_ type: T.Type) async throws -> [ID] {
    do {
      return try await client.children(paths.models(T.modelType)).children.compactMap(ID.init)
    } catch let error as ZooKeeperError where error.code == .noNode {
      return []
    } catch {
      throw NSDBError.zookeeper(error, "listing \(T.modelType.rawValue)")
    }
  }

  /// Every stored object of a type, read concurrently. Objects that cannot be
  /// decoded are skipped and logged; objects deleted meanwhile are skipped.
  /// ``readAll(_:)`` returns the undecodable ones too.
  public func getAll<T: WireCodable>(_ type: T.Type) async throws -> [T] {
    let (objects, corrupt) = try await readAll(type)
    for object in corrupt {
      logger.info(
        "skipping a corrupt object",
        metadata: ["nsdb.object": "\(object.id)", "nsdb.error": "\(object.error)"])
    }
    return objects
  }

  /// Every stored object of a type, read concurrently, and every one whose stored bytes
  /// cannot be decoded (a reader that must not hide them names them). Objects deleted
  /// meanwhile are skipped.
  public func readAll<T: WireCodable>(_ type: T.Type) async throws -> (
    objects: [T], corrupt: [CorruptObject]
  ) {
    let ids = try await ids(type)
    return try await withThrowingTaskGroup(of: (T?, CorruptObject?).self) { group in
      for id in ids {
        group.addTask {
          do {
            return (try await self.get(T.self, id), nil)
          } catch let error as NSDBError where error.code == .notFound {
            return (nil, nil)
          } catch let error as NSDBError where error.code == .corrupt {
            return (
              nil,
              CorruptObject(
                type: T.modelType, id: id, path: self.paths.object(T.modelType, id),
                error: error)
            )
          }
        }
      }
      var objects: [T] = []
      var corrupt: [CorruptObject] = []
      objects.reserveCapacity(ids.count)
      for try await (object, broken) in group {
        if let object { objects.append(object) }
        if let broken { corrupt.append(broken) }
      }
      return (objects.sorted { $0.id < $1.id }, corrupt.sorted { $0.id < $1.id })
    }
  }

  // MARK: Raw access (repairing objects whose bytes cannot be decoded)

  /// An object's node as stored: its bytes, their version, and why they do not decode
  /// (nil when they do).
  public func rawRead(_ type: ModelType, _ id: ID) async throws -> (
    data: [UInt8], version: Int32, problem: NSDBError?
  ) {
    let node: NodeData
    do {
      node = try await client.get(paths.object(type, id))
    } catch let error as ZooKeeperError where error.code == .noNode {
      throw NSDBError(.notFound, "\(type.rawValue) \(id) does not exist")
    } catch {
      throw NSDBError.zookeeper(error, "reading \(type.rawValue) \(id)")
    }
    let problem: NSDBError?
    do {
      _ = try ModelCodec.decodeAny(type, node.data, id: id)
      problem = nil
    } catch {
      problem = error
    }
    return (node.data, node.stat.version, problem)
  }

  /// Deletes an object, also one whose bytes cannot be decoded: what it referenced is
  /// found from the other side of each binding, and each binding's delete policy applies
  /// (the objects it owns are deleted, references to it cleared). Returns what it did to
  /// other objects, one line each.
  @discardableResult
  public func rawDelete(_ type: ModelType, _ id: ID) async throws -> [String] {
    try await transaction { tx in
      tx.toleratesCorrupt = true
      if try await tx.isCorrupt(type, id) {
        try await tx.prefetchReferrers(of: type)
        return try await tx.deleteCorrupt(type, id)
      }
      try await tx.deleteAny(type, id)
      return []
    }
  }

  /// Replaces an object (also one whose bytes cannot be decoded) with `bytes`, which
  /// must decode as an object of `type` with this `id`. The write goes through the
  /// bindings: what the new form references gets its back-references, and objects that
  /// referenced the old one but are not referenced back are released.
  public func rawOverwrite(_ type: ModelType, _ id: ID, bytes: [UInt8]) async throws {
    let object: any WireCodable
    do {
      object = try ModelCodec.decodeAny(type, bytes, id: id)
    } catch {
      throw NSDBError(
        .invalidArgument, "the new bytes are not a \(type.rawValue): \(error.message)",
        cause: error.cause)
    }
    guard object.id == id else {
      throw NSDBError(
        .invalidArgument,
        "the new bytes are \(type.rawValue) \(object.id), not \(id); an object keeps its id")
    }
    try await transaction { tx in
      tx.toleratesCorrupt = true
      let corrupt = try await tx.isCorrupt(type, id)
      let present = try await tx.slot(type, id).current != nil
      guard corrupt || present else {
        throw NSDBError(.notFound, "\(type.rawValue) \(id) does not exist")
      }
      try await tx.overwrite(object)
    }
  }
}

/// A stored object whose bytes cannot be decoded: which, where, and why.
public struct CorruptObject: Sendable, CustomStringConvertible {
  public var type: ModelType
  public var id: ID
  /// Its znode.
  public var path: String
  public var error: NSDBError

  public init(type: ModelType, id: ID, path: String, error: NSDBError) {
    self.type = type
    self.id = id
    self.path = path
    self.error = error
  }

  /// Why it does not decode, in one line.
  public var reason: String {
    error.cause.map { "\(error.message): \($0)" } ?? error.message
  }

  public var description: String {
    "\(type.rawValue) \(id) at \(path) cannot be decoded (\(reason))"
  }
}
