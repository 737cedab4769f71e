import Topology
import ZooKeeper

/// A group of reads and writes committed atomically as one ZooKeeper `multi`.
///
/// Every object the transaction reads or writes is cached with the version it
/// was read at. At commit, each written object becomes a create, a set or a
/// delete guarded by that version, and each object only read becomes a
/// `check` of its version: if any of them changed since it was read, the
/// whole multi fails and nothing is applied; ``NSDBStore/transaction(_:)``
/// then runs the body again on fresh reads, a bounded number of times.
///
/// Bindings are applied as the writes are made: creating a port on a bridge
/// adds it to the bridge's `portIds` in the same transaction, deleting a
/// bridge deletes its ports (CASCADE), and so on (see ``Binding``). Objects a
/// binding references must exist (in the NSDB or earlier in the transaction).
public struct Transaction: Sendable {
  struct Key: Hashable, Comparable, Sendable {
    let type: ModelType
    let id: ID
    static func < (a: Key, b: Key) -> Bool {
      (a.type.rawValue, a.id) < (b.type.rawValue, b.id)
    }
  }

  struct Slot: @unchecked Sendable {
    /// As read from ZooKeeper (nil: absent).
    var original: (any WireCodable)?
    var originalBytes: [UInt8]?
    /// ZooKeeper's version of the node when read (-1 when absent).
    var version: Int32
    /// As the transaction wants it (nil: absent / deleted).
    var current: (any WireCodable)?
    /// Why the stored bytes (`originalBytes`) could not be decoded; `original` is then
    /// nil, and `current` nil until the transaction overwrites the object.
    var corrupt: NSDBError? = nil
    /// Delete the corrupt node at commit.
    var dropCorrupt = false
  }

  let store: NSDBStore
  var slots: [Key: Slot] = [:]
  /// On a first attempt `create` does not read: the multi's create fails if
  /// the node exists, and the retry (which reads) reports `.alreadyExists`.
  let optimisticCreates: Bool
  /// Layout nodes (parents first) to create at the start of the multi, when it writes.
  var layout: [String] = []
  /// Read an object whose bytes cannot be decoded as a corrupt slot instead of failing
  /// with `.corrupt` (apply and the repairs of `midgectl raw` work around such objects).
  var toleratesCorrupt = false

  init(store: NSDBStore, optimisticCreates: Bool = false) {
    self.store = store
    self.optimisticCreates = optimisticCreates
  }

  // MARK: Reads

  mutating func slot(_ type: ModelType, _ id: ID) async throws -> Slot {
    let key = Key(type: type, id: id)
    if let slot = slots[key] { return slot }
    let path = store.paths.object(type, id)
    let slot: Slot
    do {
      let node = try await store.client.get(path)
      let decoded = Result { () throws(NSDBError) in
        try ModelCodec.decodeAny(type, node.data, id: id)
      }
      switch decoded {
      case .success(let object):
        slot = Slot(
          original: object, originalBytes: node.data, version: node.stat.version, current: object)
      case .failure(let error) where toleratesCorrupt && error.code == .corrupt:
        slot = Slot(
          original: nil, originalBytes: node.data, version: node.stat.version, current: nil,
          corrupt: error)
      case .failure(let error):
        throw error
      }
    } catch let error as ZooKeeperError where error.code == .noNode {
      slot = Slot(original: nil, originalBytes: nil, version: -1, current: nil)
    } catch let error as NSDBError {
      throw error
    } catch {
      throw NSDBError.zookeeper(error, "reading \(type.rawValue) \(id)")
    }
    slots[key] = slot
    return slot
  }

  /// Reads many objects concurrently into the transaction (same versioning
  /// as one-by-one reads; much faster for a whole type).
  mutating func prefetch(_ type: ModelType, _ ids: [ID]) async throws {
    let missing = ids.filter { slots[Key(type: type, id: $0)] == nil }
    let store = self.store
    let tolerant = toleratesCorrupt
    let loaded = try await withThrowingTaskGroup(of: (ID, Slot).self) { group in
      var next = 0
      var results: [(ID, Slot)] = []
      func schedule() {
        guard next < missing.count else { return }
        let id = missing[next]
        next += 1
        group.addTask {
          var probe = Transaction(store: store)
          probe.toleratesCorrupt = tolerant
          return (id, try await probe.slot(type, id))
        }
      }
      for _ in 0..<64 { schedule() }
      while let result = try await group.next() {
        results.append(result)
        schedule()
      }
      return results
    }
    for (id, slot) in loaded { slots[Key(type: type, id: id)] = slot }
  }

  /// The object as this transaction sees it, or nil if absent.
  public mutating func get<T: WireCodable>(_ type: T.Type, _ id: ID) async throws -> T? {
    try await slot(T.modelType, id).current as? T
  }

  /// The object, or a `.notFound` error naming it.
  public mutating func require<T: WireCodable>(_ type: T.Type, _ id: ID) async throws -> T {
    guard let object = try await get(type, id) else {
      throw NSDBError(.notFound, "\(T.modelType.rawValue) \(id) does not exist")
    }
    return object
  }

  // MARK: Writes

  /// Creates `object` and binds every object it references.
  public mutating func create<T: WireCodable>(_ object: T) async throws {
    let key = Key(type: T.modelType, id: object.id)
    if optimisticCreates && slots[key] == nil {
      slots[key] = Slot(original: nil, originalBytes: nil, version: -1, current: nil)
    }
    guard try await slot(key.type, key.id).current == nil else {
      throw NSDBError(.alreadyExists, "\(key.type.rawValue) \(object.id) already exists")
    }
    slots[key]?.current = object
    try await bind(object, old: nil)
  }

  /// Replaces `object`; references it gained are bound, those it lost released.
  public mutating func update<T: WireCodable>(_ object: T) async throws {
    let key = Key(type: T.modelType, id: object.id)
    guard let old = try await slot(key.type, key.id).current else {
      throw NSDBError(.notFound, "\(key.type.rawValue) \(object.id) does not exist")
    }
    slots[key]?.current = object
    try await bind(object, old: old)
  }

  /// Creates or replaces `object`.
  public mutating func upsert<T: WireCodable>(_ object: T) async throws {
    if try await slot(T.modelType, object.id).current == nil {
      try await create(object)
    } else {
      try await update(object)
    }
  }

  /// Deletes the object, applying each binding's delete policy.
  public mutating func delete<T: WireCodable>(_ type: T.Type, _ id: ID) async throws {
    try await delete(T.modelType, id, reason: nil)
  }

  mutating func delete(_ type: ModelType, _ id: ID, reason: String?) async throws {
    let key = Key(type: type, id: id)
    guard let object = try await slot(type, id).current else {
      if reason != nil { return }  // already gone in a cascade
      throw NSDBError(.notFound, "\(type.rawValue) \(id) does not exist")
    }
    slots[key]?.current = nil
    for (field, other, policy) in store.bindings.sides(of: type) {
      for target in field.get(object) {
        guard try await slot(other.type, target).current != nil else { continue }
        switch policy {
        case .cascade:
          try await delete(other.type, target, reason: "\(field.name) of \(type.rawValue) \(id)")
        case .clear:
          try await edit(other.type, target) { other.remove($0, id) }
        case .error:
          throw NSDBError(
            .stillReferenced,
            "cannot delete \(type.rawValue) \(id): \(other.type.rawValue) \(target) still references it through \(field.name)"
          )
        }
      }
    }
  }

  /// Binds what `object` references now and releases what `old` referenced.
  mutating func bind(_ object: any WireCodable, old: (any WireCodable)?) async throws {
    let type = Swift.type(of: object).modelType
    for (field, other, _) in store.bindings.sides(of: type) {
      let now = field.get(object)
      let before = old.map(field.get) ?? []
      for target in before where !now.contains(target) {
        guard try await slot(other.type, target).current != nil else { continue }
        try await edit(other.type, target) { other.remove($0, object.id) }
      }
      for target in now where !before.contains(target) {
        let targetSlot = try await slot(other.type, target)
        if targetSlot.current == nil, let corrupt = targetSlot.corrupt {
          throw NSDBError(
            .corrupt,
            "\(field.name) of \(type.rawValue) \(object.id) references \(other.type.rawValue) \(target), whose stored bytes at \(store.paths.object(other.type, target)) cannot be decoded; overwrite or delete it first",
            cause: corrupt)
        }
        guard let existing = targetSlot.current else {
          throw NSDBError(
            .danglingReference,
            "\(field.name) of \(type.rawValue) \(object.id) references \(other.type.rawValue) \(target), which does not exist"
          )
        }
        if other.type == type && target == object.id { continue }
        slots[Key(type: other.type, id: target)]?.current = try other.add(existing, object.id)
      }
    }
  }

  mutating func edit(
    _ type: ModelType, _ id: ID, _ change: (any WireCodable) -> any WireCodable
  ) async throws {
    let key = Key(type: type, id: id)
    guard let current = try await slot(type, id).current else { return }
    slots[key]?.current = change(current)
  }

  // MARK: Commit

  /// The multi that applies this transaction, or nil when it changes nothing.
  func operations() throws -> [Operation]? {
    var operations: [Operation] = []
    var writes = 0
    for key in slots.keys.sorted() {
      guard let slot = slots[key] else { continue }
      let path = store.paths.object(key.type, key.id)
      switch (slot.original, slot.current) {
      case (nil, let current?) where slot.corrupt != nil:
        // Overwrites the undecodable bytes read at this version.
        operations.append(.set(path, data: try ModelCodec.encode(current), version: slot.version))
        writes += 1
      case (nil, let current?):
        operations.append(.create(path, data: try ModelCodec.encode(current)))
        writes += 1
      case (.some, nil):
        operations.append(.delete(path, version: slot.version))
        writes += 1
      case (.some, let current?):
        let bytes = try ModelCodec.encode(current)
        if bytes == slot.originalBytes {
          operations.append(.check(path, version: slot.version))
        } else {
          operations.append(.set(path, data: bytes, version: slot.version))
          writes += 1
        }
      case (nil, nil) where slot.dropCorrupt:
        operations.append(.delete(path, version: slot.version))
        writes += 1
      case (nil, nil):
        continue
      }
    }
    guard writes > 0 else { return nil }
    return layout.map { Operation.create($0) } + operations
  }
}

extension Transaction {
  /// Deletes an object of a type known only at run time (`midgectl delete`).
  public mutating func deleteAny(_ type: ModelType, _ id: ID) async throws {
    try await delete(type, id, reason: nil)
  }
}

// MARK: Objects whose bytes cannot be decoded

extension Transaction {
  /// Whether the object is stored but its bytes cannot be decoded (and the transaction
  /// has not overwritten it).
  mutating func isCorrupt(_ type: ModelType, _ id: ID) async throws -> Bool {
    let slot = try await slot(type, id)
    return slot.current == nil && slot.corrupt != nil && !slot.dropCorrupt
  }

  /// Reads every object of the types that reference `type` through a binding, so that
  /// who references an object can be found from the other side.
  mutating func prefetchReferrers(of type: ModelType) async throws {
    for other in Set(store.bindings.sides(of: type).map(\.1.type)) {
      try await prefetch(other, try await store.untypedIDs(other))
    }
  }

  /// The objects (already read) that reference `id` of `type`, per binding side of `type`.
  func referrers(of type: ModelType, _ id: ID) -> [(RefField, RefField, DeletePolicy, ID)] {
    var result: [(RefField, RefField, DeletePolicy, ID)] = []
    for (field, other, policy) in store.bindings.sides(of: type) {
      for (key, slot) in slots where key.type == other.type {
        if let object = slot.current, other.get(object).contains(id) {
          result.append((field, other, policy, key.id))
        }
      }
    }
    return result.sorted { ($0.1.name, $0.3) < ($1.1.name, $1.3) }
  }

  /// Deletes an object whose bytes cannot be decoded as `delete` would have: what it
  /// referenced is found from the other side of each binding (its referrers, read by
  /// ``prefetchReferrers(of:)``), and each binding's delete policy applies to them.
  /// Returns what it did to them, one line each.
  mutating func deleteCorrupt(_ type: ModelType, _ id: ID) async throws -> [String] {
    let key = Key(type: type, id: id)
    guard try await isCorrupt(type, id) else {
      throw NSDBError(.invalidArgument, "\(type.rawValue) \(id) is not a corrupt object")
    }
    var done: [String] = []
    for (field, other, policy, referrer) in referrers(of: type, id) {
      switch policy {
      case .cascade:
        try await delete(other.type, referrer, reason: "\(field.name) of \(type.rawValue) \(id)")
        done.append("deleted \(other.type.rawValue) \(referrer) (\(field.name) cascades)")
      case .clear:
        try await edit(other.type, referrer) { other.remove($0, id) }
        done.append("removed it from \(other.name) of \(other.type.rawValue) \(referrer)")
      case .error:
        throw NSDBError(
          .stillReferenced,
          "cannot delete \(type.rawValue) \(id): \(other.type.rawValue) \(referrer) still references it through \(other.name)"
        )
      }
    }
    slots[key]?.dropCorrupt = true
    return done
  }

  /// After a corrupt object was overwritten with `id`'s new form: referrers that the new
  /// form does not reference back are released (a filter chain that listed the old
  /// port, say), so both sides of every binding agree again.
  mutating func releaseUnreturnedReferrers(_ type: ModelType, _ id: ID) async throws {
    guard let object = try await slot(type, id).current else { return }
    for (field, other, _, referrer) in referrers(of: type, id)
    where !field.get(object).contains(referrer) {
      try await edit(other.type, referrer) { other.remove($0, id) }
    }
  }

  /// Overwrites (or, when it decodes, updates) the object with `object`'s id, through
  /// the bindings: what it references gets its back-references, referrers it does not
  /// reference back are released.
  mutating func overwrite(_ object: any WireCodable) async throws {
    let type = Swift.type(of: object).modelType
    if try await isCorrupt(type, object.id) {
      try await prefetchReferrers(of: type)
      try await createUntyped(object)
      try await releaseUnreturnedReferrers(type, object.id)
    } else {
      try await updateUntyped(object)
    }
  }
}
