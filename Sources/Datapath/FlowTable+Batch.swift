import CDatapath

/// Batched lookups (see "Batches" in the design notes of FlowTable.swift).
extension FlowTable {
  /// The most keys one `lookupBatch` call takes.
  public static let maximumBatch = 64

  /// Looks up `keys` (at most `maximumBatch`): for each, on a hit, counts a packet of
  /// `bytes[i]` bytes at `now` and stores the flow's action set in `results[i]`
  /// (`actions(_:)` gives the actions); on a miss stores `.miss`. The same as calling
  /// `lookup` per key, in the same order, but the memory the probes need is requested
  /// for the whole batch before any probe waits for it.
  @inlinable
  public mutating func lookupBatch(
    _ keys: UnsafeBufferPointer<FlowKey>, bytes: UnsafeBufferPointer<Int>, now: UInt64,
    into results: UnsafeMutableBufferPointer<ActionSetID>
  ) {
    precondition(keys.count <= FlowTable.maximumBatch && bytes.count >= keys.count)
    precondition(results.count >= keys.count)
    let mask = self.mask
    // Stage 1: the index cell of each key's home position.
    index.withUnsafeBufferPointer { cells in
      for key in keys {
        midge_dp_prefetch(cells.baseAddress! + (Int(truncatingIfNeeded: key.hash) & mask))
      }
    }
    // Stage 2: the record the home cell points at when its fingerprint matches (the
    // usual case at load factor 1/2): its first two cache lines.
    index.withUnsafeBufferPointer { cells in
      hot.withUnsafeBufferPointer { records in
        guard let base = records.baseAddress else { return }
        for key in keys {
          let cell = cells[Int(truncatingIfNeeded: key.hash) & mask]
          guard cell != 0, cell & FlowTable.fingerprintMask == key.hash & FlowTable.fingerprintMask
          else { continue }
          let record = UnsafeRawPointer(base + (Int(truncatingIfNeeded: cell & 0xFFFF_FFFF) &- 1))
          midge_dp_prefetch(record)
          midge_dp_prefetch(record + 64)
        }
      }
    }
    // Stage 3: the probes and the hits, now mostly from cache.
    for position in 0..<keys.count {
      if let slot = find(keys[position]) {
        results[position] = ActionSetID(raw: hit(slot, bytes: bytes[position], now: now))
      } else {
        results[position] = .miss
      }
    }
  }
}
