import CDatapath

/// Batched lookups (see "Batches" in the design notes of FlowTable.swift).
extension FlowTable {
  /// The most keys one `lookupBatch` call takes.
  public static let maximumBatch = 64

  /// How many keys ahead of the probe the index cells and the records are requested.
  @usableFromInline static let cellDistance = 16
  @usableFromInline static let recordDistance = 8

  /// Looks up `keys` (at most `maximumBatch`): for each, on a hit, counts a packet of
  /// `bytes[i]` bytes at `now` and stores the flow's action set in `results[i]`
  /// (`actions(_:)` gives the actions); on a miss stores `.miss`. The same as calling
  /// `lookup` per key, in the same order, but memory is requested ahead of the probes:
  /// the index cell 16 keys ahead, the record its fingerprint points at 8 keys ahead, so
  /// a steady stream of requests is in flight while the probes run.
  @inlinable
  public mutating func lookupBatch(
    _ keys: UnsafeBufferPointer<FlowKey>, bytes: UnsafeBufferPointer<Int>, now: UInt64,
    into results: UnsafeMutableBufferPointer<ActionSetID>
  ) {
    precondition(keys.count <= FlowTable.maximumBatch && bytes.count >= keys.count)
    precondition(results.count >= keys.count)
    let count = keys.count
    guard count > 0 else { return }
    let mask = self.mask
    // Read-only pass: find every key's slot, prefetching ahead.
    index.withUnsafeBufferPointer { cells in
      hot.withUnsafeBufferPointer { records in
        let cellBase = cells.baseAddress!
        @inline(__always) func home(_ position: Int) -> Int {
          Int(truncatingIfNeeded: keys[position].hash) & mask
        }
        @inline(__always) func prefetchRecord(_ position: Int) {
          guard let base = records.baseAddress else { return }
          let cell = cells[home(position)]
          guard cell != 0,
            cell & FlowTable.fingerprintMask == keys[position].hash & FlowTable.fingerprintMask
          else { return }
          let record = UnsafeRawPointer(base + (Int(truncatingIfNeeded: cell & 0xFFFF_FFFF) &- 1))
          midge_dp_prefetch(record)
          midge_dp_prefetch(record + 64)
        }
        for position in 0..<min(count, FlowTable.cellDistance) {
          midge_dp_prefetch(cellBase + home(position))
        }
        for position in 0..<min(count, FlowTable.recordDistance) { prefetchRecord(position) }
        for position in 0..<count {
          let cellAhead = position + FlowTable.cellDistance
          if cellAhead < count { midge_dp_prefetch(cellBase + home(cellAhead)) }
          let recordAhead = position + FlowTable.recordDistance
          if recordAhead < count { prefetchRecord(recordAhead) }
          results[position] = ActionSetID(raw: find(keys[position]).map { UInt32($0) } ?? .max)
        }
      }
    }
    // The hits, on records now in cache; `results` holds slots until replaced.
    for position in 0..<count where !results[position].isMiss {
      let slot = Int(results[position].raw)
      results[position] = ActionSetID(raw: hit(slot, bytes: bytes[position], now: now))
    }
  }
}
