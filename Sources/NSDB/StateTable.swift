import Logging
import Synchronization
import ZooKeeper

/// A replicated key → value map in ZooKeeper: learned MACs of a bridge, ARP
/// entries of a router.
///
/// Design
/// ------
/// Every entry is one child node of the table path, and the whole entry —
/// key, value, kind and ZooKeeper's sequence — is in the node's *name*
/// (``StateTableName``); node data is unused. So one children watch, one
/// round trip, reads the entire table, and a replica never has to fetch N
/// nodes to learn N values. This is MidoNet's `ReplicatedMap` layout.
///
/// Entries are *learned* (ephemeral-sequential, owned by the writer's
/// session) or *persistent* (persistent-sequential, written by an operator).
/// Learned entries vanish when the agent that learned them dies, which is
/// exactly the lifetime a learned MAC should have. Several nodes may exist
/// for one key (two agents saw the MAC on different ports, or a MAC moved);
/// readers resolve them the same way everywhere:
///
/// - the learned entry with the highest sequence wins (the newest
///   observation; sequences grow per table, so they order writers too);
/// - a persistent entry serves only while no learned entry exists.
///
/// Writers never read-modify-write, so there are no version conflicts: an
/// `add` is one `create`. A writer replaces its own older node of the same
/// pair after creating the new one, so re-learning refreshes an entry without
/// accumulating nodes.
///
/// Sessions: when the writer's session expires its learned entries are gone.
/// The table remembers what this process learned (in order) and
/// ``reassert()`` writes it again; ``reassertOnNewSession()`` arranges that
/// via the client's `onNewSession` hook. Replicas (``replicate()``) ride on
/// the client's self-re-arming children watch, so they survive reconnects and
/// expiries without help.
public final class StateTable: Sendable {
  public let client: ZooKeeperClient
  public let path: String
  let logger: Logger

  struct Pair: Hashable {
    var key: String
    var value: String
  }

  /// What this process learned, for ``reassert()``: each pair with the order
  /// in which it was (last) added and the node paths it owns for it.
  struct Owned {
    var nextOrder: UInt64 = 0
    var pairs: [Pair: (order: UInt64, paths: [String])] = [:]
    var hook: UInt64?
  }

  let owned = Mutex(Owned())

  public init(client: ZooKeeperClient, path: String, logger: Logger) {
    self.client = client
    self.path = path
    self.logger = logger
  }

  var metadata: Logger.Metadata { ["nsdb.table": "\(path)"] }

  /// Adds an entry: learned (ephemeral, the default) or persistent. Creates
  /// the table path if missing. Returns the entry as written.
  @discardableResult
  public func add(key: String, value: String, persistent: Bool = false) async throws
    -> StateTableEntry
  {
    let prefix = path + "/" + StateTableName.prefix(key: key, value: value, persistent: persistent)
    let mode: CreateMode = persistent ? .persistentSequential : .ephemeralSequential
    let created: String
    do {
      do {
        created = try await client.create(prefix, mode: mode)
      } catch let error as ZooKeeperError where error.code == .noNode {
        try await client.createPath(path)
        created = try await client.create(prefix, mode: mode)
      }
    } catch {
      throw NSDBError.wrap(error, "cannot add \(key) → \(value) to \(path)")
    }
    let name = String(created.split(separator: "/").last ?? "")
    guard let entry = StateTableName.parse(name) else {
      throw NSDBError(.corrupt, "ZooKeeper created an unparseable entry \(created)")
    }
    var meta = metadata
    meta["nsdb.key"] = "\(key)"
    meta["nsdb.value"] = "\(value)"
    meta["nsdb.sequence"] = "\(entry.sequence)"
    logger.debug("state table entry added", metadata: meta)
    if !persistent { await replaceOwn(Pair(key: key, value: value), with: created) }
    return entry
  }

  /// Records `created` as the node of `pair` and deletes this process's older
  /// nodes of the same pair (best effort: a leftover is harmless, it carries
  /// the same value and dies with the session).
  func replaceOwn(_ pair: Pair, with created: String) async {
    let stale = owned.withLock { owned -> [String] in
      let old = owned.pairs[pair]?.paths ?? []
      owned.pairs[pair] = (owned.nextOrder, [created])
      owned.nextOrder += 1
      return old
    }
    for node in stale where node != created {
      try? await client.delete(node)
    }
  }

  /// Removes entries of `key` → `value`: this session's learned ones, or with
  /// `persistent: true` the persistent ones (they have no owner). Returns how
  /// many nodes were deleted. The pair is no longer re-asserted.
  @discardableResult
  public func remove(key: String, value: String, persistent: Bool = false) async throws -> Int {
    if !persistent {
      _ = owned.withLock { $0.pairs.removeValue(forKey: Pair(key: key, value: value)) }
    }
    let entries = try await self.entries().filter {
      $0.key == key && $0.value == value && $0.persistent == persistent
    }
    let session = client.sessionID
    var removed = 0
    for entry in entries {
      let node = path + "/" + entry.name
      do {
        if !persistent {
          guard let stat = try await client.exists(node), stat.ephemeralOwner == session else {
            continue
          }
        }
        try await client.delete(node)
        removed += 1
      } catch let error as ZooKeeperError where error.code == .noNode {
        continue
      } catch {
        throw NSDBError.wrap(error, "cannot remove \(key) → \(value) from \(path)")
      }
    }
    var meta = metadata
    meta["nsdb.key"] = "\(key)"
    meta["nsdb.removed"] = "\(removed)"
    logger.debug("state table entries removed", metadata: meta)
    return removed
  }

  /// Every entry node of the table (all nodes, not only the winners); empty
  /// when the table path does not exist.
  public func entries() async throws -> [StateTableEntry] {
    let names: [String]
    do {
      names = try await client.children(path).children
    } catch let error as ZooKeeperError where error.code == .noNode {
      return []
    } catch {
      throw NSDBError.wrap(error, "cannot read state table \(path)")
    }
    return parse(names)
  }

  /// Decodes node names, skipping (and logging) foreign ones.
  func parse(_ names: [String]) -> [StateTableEntry] {
    names.compactMap { name in
      guard let entry = StateTableName.parse(name) else {
        var meta = metadata
        meta["nsdb.node"] = "\(name)"
        logger.debug("ignoring a node that is not a state table entry", metadata: meta)
        return nil
      }
      return entry
    }
  }

  /// The value that serves for `key` now, read from ZooKeeper.
  public func get(_ key: String) async throws -> String? {
    StateTableEntry.resolve(try await entries().filter { $0.key == key })[key]?.value
  }

  /// The resolved table now, read from ZooKeeper.
  public func snapshot() async throws -> [String: String] {
    StateTableEntry.resolve(try await entries()).mapValues(\.value)
  }

  /// Writes again every pair this process learned (and did not remove), in
  /// the order it last learned them, so the newest stays the newest. Meant to
  /// run after a session expiry took the ephemeral entries away.
  public func reassert() async {
    let pairs = owned.withLock { owned in
      owned.pairs.sorted { $0.value.order < $1.value.order }.map(\.key)
    }
    guard !pairs.isEmpty else { return }
    var meta = metadata
    meta["nsdb.entries"] = "\(pairs.count)"
    logger.info("re-asserting learned state table entries", metadata: meta)
    for pair in pairs {
      // Skip pairs removed while we were re-asserting.
      guard owned.withLock({ $0.pairs[pair] != nil }) else { continue }
      do {
        try await add(key: pair.key, value: pair.value)
      } catch {
        meta["nsdb.key"] = "\(pair.key)"
        meta["nsdb.error"] = "\(error)"
        logger.info("cannot re-assert a state table entry", metadata: meta)
      }
    }
  }

  /// Re-asserts this process's learned entries each time the client gets a
  /// new session after an expiry. Idempotent.
  public func reassertOnNewSession() {
    owned.withLock { owned in
      guard owned.hook == nil else { return }
      owned.hook = client.onNewSession { [weak self] _ in await self?.reassert() }
    }
  }

  /// Stops re-asserting after expiries (the entries already written stay).
  public func stopReasserting() {
    if let hook = owned.withLock({ owned in
      defer { owned.hook = nil }
      return owned.hook
    }) {
      client.removeNewSessionHook(hook)
    }
  }

  deinit {
    if let hook = owned.withLock({ $0.hook }) { client.removeNewSessionHook(hook) }
  }
}
