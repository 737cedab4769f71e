/// The per-slot records and the slot lifecycle (insert, remove, hit).
extension FlowTable {
  /// What a hit reads and writes, kept small and together: the key a probe compares,
  /// the counters a hit bumps and the id of the flow's interned actions. Plain words
  /// only, so touching a record costs no reference counting.
  @usableFromInline
  struct HotRecord: Sendable {
    @usableFromInline var key: FlowKey
    @usableFromInline var packets: UInt64
    @usableFromInline var bytes: UInt64
    @usableFromInline var lastUsed: UInt64
    /// The table's use counter when the flow was last installed or hit: the recency
    /// order, without ties.
    @usableFromInline var recency: UInt64
    @usableFromInline var actionSet: UInt32
  }

  /// What only the writer reads.
  struct ColdRecord: Sendable {
    var entry: FlowEntry
    var installedAt: UInt64
    /// Nanoseconds; 0 for none.
    var idleTimeout: UInt64
    /// Nanoseconds; 0 for none.
    var hardTimeout: UInt64
    var generation: UInt32
    var live: Bool
  }

  /// Counts a hit on `slot` and returns its action set.
  @inlinable @inline(__always)
  mutating func hit(_ slot: Int, bytes: Int, now: UInt64) -> UInt32 {
    useCounter &+= 1
    let recency = useCounter
    return hot.withUnsafeMutableBufferPointer { records in
      records[slot].packets &+= 1
      records[slot].bytes &+= UInt64(truncatingIfNeeded: bytes)
      records[slot].lastUsed = now
      records[slot].recency = recency
      return records[slot].actionSet
    }
  }

  mutating func insert(_ key: FlowKey, entry: FlowEntry, now: UInt64) {
    var unique: [FlowTagHash] = []
    for tag in entry.tags where !unique.contains(tag) { unique.append(tag) }
    var stored = entry
    stored.tags = unique
    useCounter &+= 1
    let record = HotRecord(
      key: key, packets: 0, bytes: 0, lastUsed: now, recency: useCounter,
      actionSet: actionPool.intern(entry.actions))
    let slot: Int
    if let free = freeSlots.popLast() {
      slot = Int(free)
      hot[slot] = record
      cold[slot].entry = stored
      cold[slot].installedAt = now
      cold[slot].idleTimeout = entry.idleTimeout?.clampedNanoseconds ?? 0
      cold[slot].hardTimeout = entry.hardTimeout?.clampedNanoseconds ?? 0
      cold[slot].live = true
    } else {
      slot = hot.count
      hot.append(record)
      cold.append(
        ColdRecord(
          entry: stored, installedAt: now,
          idleTimeout: entry.idleTimeout?.clampedNanoseconds ?? 0,
          hardTimeout: entry.hardTimeout?.clampedNanoseconds ?? 0, generation: 0, live: true))
    }
    count += 1
    insertIndex(hash: key.hash, slot: slot)
    let generation = cold[slot].generation
    for tag in unique {
      addTagReference(tag, slot: slot, generation: generation)
    }
  }

  mutating func removeSlot(_ slot: Int, reason: RemovedFlow.Reason) -> RemovedFlow {
    let removed = RemovedFlow(snapshot: snapshot(ofSlot: slot), reason: reason)
    removeIndex(hash: hot[slot].key.hash, slot: slot)
    for tag in cold[slot].entry.tags {
      dropTagReference(tag)
    }
    actionPool.release(hot[slot].actionSet)
    cold[slot].generation &+= 1
    cold[slot].live = false
    cold[slot].entry.actions = []
    cold[slot].entry.tags = []
    freeSlots.append(UInt32(slot))
    count -= 1
    return removed
  }

  func snapshot(ofSlot slot: Int) -> FlowSnapshot {
    let record = hot[slot]
    let stats = FlowStats(
      packets: record.packets, bytes: record.bytes, installedAt: cold[slot].installedAt,
      lastUsed: record.lastUsed)
    return FlowSnapshot(entry: cold[slot].entry, stats: stats)
  }
}
