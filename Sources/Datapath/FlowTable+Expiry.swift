/// Idle and hard timeouts.
extension FlowTable {
  /// Removes and returns every flow whose hard timeout (counted from install) or idle
  /// timeout (counted from its last packet) has passed at `now`. The hard timeout is
  /// checked first, so a flow past both reports `.hardTimeout`.
  public mutating func expire(now: UInt64) -> [RemovedFlow] {
    var removed: [RemovedFlow] = []
    for slot in 0..<cold.count where cold[slot].live {
      let record = cold[slot]
      if record.hardTimeout != 0, now >= record.installedAt,
        now - record.installedAt >= record.hardTimeout
      {
        removed.append(removeSlot(slot, reason: .hardTimeout))
        continue
      }
      let lastUsed = hot[slot].lastUsed
      if record.idleTimeout != 0, now >= lastUsed, now - lastUsed >= record.idleTimeout {
        removed.append(removeSlot(slot, reason: .idleTimeout))
      }
    }
    return removed
  }
}
