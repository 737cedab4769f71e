/// The tag index: remove-by-tag touches only the flows indexed under the tag.
extension FlowTable {
  /// The flows under one tag: (slot << 32 | generation) references, some possibly stale,
  /// and how many are live.
  struct TagList: Sendable {
    var references: [UInt64] = []
    var live = 0
  }

  /// Removes every flow indexed under `tag` and returns them.
  @discardableResult
  public mutating func removeAll(taggedWith tag: FlowTagHash) -> [RemovedFlow] {
    guard let list = tagIndex.removeValue(forKey: tag) else { return [] }
    var removed: [RemovedFlow] = []
    removed.reserveCapacity(list.live)
    for reference in list.references {
      let slot = Int(reference >> 32)
      guard isLive(slot, generation: UInt32(truncatingIfNeeded: reference)) else { continue }
      removed.append(removeSlot(slot, reason: .tagInvalidated))
    }
    return removed
  }

  /// The number of live flows indexed under `tag`.
  public func flowCount(taggedWith tag: FlowTagHash) -> Int {
    tagIndex[tag]?.live ?? 0
  }

  /// The number of distinct tags with live flows.
  public var tagCount: Int { tagIndex.count }

  func isLive(_ slot: Int, generation: UInt32) -> Bool {
    slot < cold.count && cold[slot].live && cold[slot].generation == generation
  }

  mutating func addTagReference(_ tag: FlowTagHash, slot: Int, generation: UInt32) {
    let reference = UInt64(slot) << 32 | UInt64(generation)
    var list = tagIndex.removeValue(forKey: tag) ?? TagList()
    if list.references.count > 2 * list.live + 16 {
      list.references.removeAll { reference in
        !isLive(Int(reference >> 32), generation: UInt32(truncatingIfNeeded: reference))
      }
    }
    list.references.append(reference)
    list.live += 1
    tagIndex[tag] = list
  }

  /// One live flow under `tag` is going away.
  mutating func dropTagReference(_ tag: FlowTagHash) {
    guard let index = tagIndex.index(forKey: tag) else { return }
    tagIndex.values[index].live -= 1
    if tagIndex.values[index].live <= 0 {
      tagIndex.remove(at: index)
    }
  }
}
