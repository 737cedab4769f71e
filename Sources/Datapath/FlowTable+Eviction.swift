/// Least-recently-used eviction by batched scans (see the design notes in
/// FlowTable.swift).
extension FlowTable {
  /// A flow found old by an eviction scan, with its recency at the time.
  struct EvictionCandidate: Sendable {
    var slot: Int
    var recency: UInt64
  }

  /// The live flow with the smallest recency, using and refilling the candidate list.
  mutating func leastRecentlyUsed() -> Int? {
    while true {
      while let candidate = evictionCandidates.popLast() {
        if cold[candidate.slot].live, hot[candidate.slot].recency == candidate.recency {
          return candidate.slot
        }
      }
      guard count > 0 else { return nil }
      refillEvictionCandidates()
    }
  }

  /// Collects the oldest `count / 64` flows (at least one), oldest last.
  private mutating func refillEvictionCandidates() {
    let wanted = max(1, min(count / 64, 4_096))
    var all: [EvictionCandidate] = []
    all.reserveCapacity(count)
    for slot in 0..<cold.count where cold[slot].live {
      all.append(EvictionCandidate(slot: slot, recency: hot[slot].recency))
    }
    if all.count > wanted {
      all.sort { $0.recency < $1.recency }
      all.removeLast(all.count - wanted)
    }
    evictionCandidates = all.sorted { $0.recency > $1.recency }
  }
}
