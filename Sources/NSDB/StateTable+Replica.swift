/// One key whose serving value changed between two replica snapshots.
public struct StateTableChange: Sendable, Hashable {
  public enum Kind: Sendable, Hashable {
    case added
    case removed
    case changed
  }

  public var key: String
  /// The value that served before; nil when the key is new.
  public var oldValue: String?
  /// The value that serves now; nil when the key is gone.
  public var newValue: String?

  public init(key: String, oldValue: String?, newValue: String?) {
    self.key = key
    self.oldValue = oldValue
    self.newValue = newValue
  }

  public var kind: Kind {
    switch (oldValue, newValue) {
    case (nil, _): return .added
    case (_, nil): return .removed
    default: return .changed
    }
  }
}

/// What a replica learned from one read of the table.
public struct StateTableUpdate: Sendable, Hashable {
  /// Changes relative to the previous update: removals first (by key), then
  /// additions and changes in the order their winning entries were written.
  public var changes: [StateTableChange]
  /// The whole resolved table after the changes.
  public var snapshot: [String: String]
  /// The winning entry of every key (with sequence and kind).
  public var winners: [String: StateTableEntry]
}

extension StateTable {
  /// A local replica of the table: the first element is the whole table (as
  /// additions), then one element per observed change of the serving values.
  ///
  /// Built on the client's children watch, which re-arms itself after every
  /// event, reconnection and session renewal and never goes back in time
  /// (by `pzxid`), so updates apply in order. ZooKeeper may coalesce several
  /// writes into one update; the diff is always against the previous update,
  /// so nothing is lost, only batched. Reads that change no serving value
  /// (e.g. a losing duplicate added) produce no element. A missing table path
  /// is an empty table. Ends when the client is closed or the consumer stops.
  public func replicate() -> AsyncThrowingStream<StateTableUpdate, any Error> {
    let source = client.watchChildren(path)
    let (stream, continuation) = AsyncThrowingStream<StateTableUpdate, any Error>.makeStream()
    let task = Task { [self] in
      var current: [String: StateTableEntry] = [:]
      var first = true
      do {
        for try await state in source {
          let next = StateTableEntry.resolve(parse(state.children ?? []))
          let changes = Self.diff(from: current, to: next)
          current = next
          if first || !changes.isEmpty {
            continuation.yield(
              StateTableUpdate(changes: changes, snapshot: next.mapValues(\.value), winners: next))
          }
          first = false
        }
        continuation.finish()
      } catch {
        continuation.finish(throwing: NSDBError.wrap(error, "replica of \(path) failed"))
      }
    }
    continuation.onTermination = { _ in task.cancel() }
    return stream
  }

  /// The serving-value changes between two resolved tables, ordered as
  /// documented on ``StateTableUpdate/changes``.
  static func diff(
    from old: [String: StateTableEntry], to new: [String: StateTableEntry]
  ) -> [StateTableChange] {
    let removed = old.keys.filter { new[$0] == nil }.sorted().map {
      StateTableChange(key: $0, oldValue: old[$0]?.value, newValue: nil)
    }
    let written = new.values.filter { old[$0.key]?.value != $0.value }
      .sorted { $0.sequence < $1.sequence }
      .map { StateTableChange(key: $0.key, oldValue: old[$0.key]?.value, newValue: $0.value) }
    return removed + written
  }
}
