import Addresses
import Logging
import Topology
import ZooKeeper

/// A ``StateTable`` whose keys and values are typed (MACs, IPv4 addresses,
/// IDs): they are stored as their `description` and parsed back with
/// `init?(_:)`. Nodes that do not parse as `Key`/`Value` (written by a buggy
/// or newer writer) are skipped, never fatal: one bad entry must not blind a
/// bridge to the rest of its MAC table.
public struct TypedStateTable<Key, Value>: Sendable
where
  Key: LosslessStringConvertible & Hashable & Sendable,
  Value: LosslessStringConvertible & Hashable & Sendable
{
  public let table: StateTable

  public init(_ table: StateTable) {
    self.table = table
  }

  public init(client: ZooKeeperClient, path: String, logger: Logger) {
    self.init(StateTable(client: client, path: path, logger: logger))
  }

  /// Adds a learned (default) or persistent entry.
  public func add(_ key: Key, _ value: Value, persistent: Bool = false) async throws {
    try await table.add(key: key.description, value: value.description, persistent: persistent)
  }

  /// Removes this session's learned entries (or the persistent ones) of the pair.
  @discardableResult
  public func remove(_ key: Key, _ value: Value, persistent: Bool = false) async throws -> Int {
    try await table.remove(key: key.description, value: value.description, persistent: persistent)
  }

  public func get(_ key: Key) async throws -> Value? {
    try await table.get(key.description).flatMap(Value.init)
  }

  public func snapshot() async throws -> [Key: Value] {
    Self.typed(try await table.snapshot())
  }

  /// See ``StateTable/reassertOnNewSession()``.
  public func reassertOnNewSession() { table.reassertOnNewSession() }

  /// A typed replica (see ``StateTable/replicate()``).
  public func replicate() -> AsyncThrowingStream<TypedStateTableUpdate<Key, Value>, any Error> {
    let source = table.replicate()
    let (stream, continuation) = AsyncThrowingStream<
      TypedStateTableUpdate<Key, Value>, any Error
    >.makeStream()
    let task = Task {
      do {
        for try await update in source {
          let changes = update.changes.compactMap { change -> TypedStateTableChange<Key, Value>? in
            guard let key = Key(change.key) else { return nil }
            return TypedStateTableChange(
              key: key, oldValue: change.oldValue.flatMap(Value.init),
              newValue: change.newValue.flatMap(Value.init))
          }
          continuation.yield(
            TypedStateTableUpdate(changes: changes, snapshot: Self.typed(update.snapshot)))
        }
        continuation.finish()
      } catch {
        continuation.finish(throwing: error)
      }
    }
    continuation.onTermination = { _ in task.cancel() }
    return stream
  }

  static func typed(_ raw: [String: String]) -> [Key: Value] {
    var result: [Key: Value] = [:]
    for (key, value) in raw {
      guard let key = Key(key), let value = Value(value) else { continue }
      result[key] = value
    }
    return result
  }
}

/// A typed ``StateTableChange``. A value that does not parse reads as nil.
public struct TypedStateTableChange<Key, Value>: Sendable, Hashable
where
  Key: LosslessStringConvertible & Hashable & Sendable,
  Value: LosslessStringConvertible & Hashable & Sendable
{
  public var key: Key
  public var oldValue: Value?
  public var newValue: Value?

  public init(key: Key, oldValue: Value?, newValue: Value?) {
    self.key = key
    self.oldValue = oldValue
    self.newValue = newValue
  }
}

/// A typed ``StateTableUpdate``.
public struct TypedStateTableUpdate<Key, Value>: Sendable, Hashable
where
  Key: LosslessStringConvertible & Hashable & Sendable,
  Value: LosslessStringConvertible & Hashable & Sendable
{
  public var changes: [TypedStateTableChange<Key, Value>]
  public var snapshot: [Key: Value]
}

/// A bridge's learned MAC → port table for one VLAN.
public typealias MACTable = TypedStateTable<MACAddress, ID>
/// A bridge's IPv4 → MAC table (ARP suppression) or a router's ARP table.
public typealias IPv4MACTable = TypedStateTable<IPv4Address, MACAddress>
/// A router's ARP cache: IPv4 → MAC.
public typealias ARPTable = TypedStateTable<IPv4Address, MACAddress>

extension TypedStateTable where Key == MACAddress, Value == ID {
  /// The MAC table of `bridge` for `vlan` (0: untagged).
  public static func macTable(
    client: ZooKeeperClient, paths: NSDBPaths, bridge: ID, vlan: UInt16 = 0, logger: Logger
  ) -> MACTable {
    MACTable(client: client, path: paths.macTable(bridge: bridge, vlan: vlan), logger: logger)
  }
}

extension TypedStateTable where Key == IPv4Address, Value == MACAddress {
  /// The IPv4 → MAC table of `bridge`.
  public static func ip4MacTable(
    client: ZooKeeperClient, paths: NSDBPaths, bridge: ID, logger: Logger
  ) -> IPv4MACTable {
    IPv4MACTable(client: client, path: paths.ip4MacTable(bridge: bridge), logger: logger)
  }

  /// The ARP table of `router`.
  public static func arpTable(
    client: ZooKeeperClient, paths: NSDBPaths, router: ID, logger: Logger
  ) -> ARPTable {
    ARPTable(client: client, path: paths.arpTable(router: router), logger: logger)
  }
}
