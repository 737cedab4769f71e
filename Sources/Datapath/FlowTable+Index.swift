/// The open-addressing index: linear probing with fingerprints and backward-shift
/// deletion (see the design notes in FlowTable.swift).
extension FlowTable {
  @usableFromInline static let fingerprintMask: UInt64 = 0xFFFF_FFFF_0000_0000

  /// The slot holding `key`, or nil.
  @inlinable @inline(__always)
  func find(_ key: FlowKey) -> Int? {
    let fingerprint = key.hash & FlowTable.fingerprintMask
    let mask = self.mask
    return index.withUnsafeBufferPointer { cells in
      hot.withUnsafeBufferPointer { records in
        var position = Int(truncatingIfNeeded: key.hash) & mask
        while true {
          let cell = cells[position]
          if cell == 0 { return nil }
          if cell & FlowTable.fingerprintMask == fingerprint {
            let slot = Int(truncatingIfNeeded: cell & 0xFFFF_FFFF) &- 1
            if records[slot].key == key { return slot }
          }
          position = (position &+ 1) & mask
        }
      }
    }
  }

  mutating func insertIndex(hash: UInt64, slot: Int) {
    if count * 2 > index.count { grow() }
    place(hash: hash, slot: slot)
  }

  private mutating func place(hash: UInt64, slot: Int) {
    var position = Int(truncatingIfNeeded: hash) & mask
    while index[position] != 0 { position = (position + 1) & mask }
    index[position] = hash & FlowTable.fingerprintMask | UInt64(slot + 1)
  }

  mutating func removeIndex(hash: UInt64, slot: Int) {
    let cellValue = hash & FlowTable.fingerprintMask | UInt64(slot + 1)
    var hole = Int(truncatingIfNeeded: hash) & mask
    while index[hole] != cellValue {
      guard index[hole] != 0 else { return }  // not indexed: nothing to do
      hole = (hole + 1) & mask
    }
    // Backward shift: pull later members of the probe run into the hole when the hole
    // lies between their home cell and where they sit.
    var next = (hole + 1) & mask
    while index[next] != 0 {
      let movedSlot = Int(truncatingIfNeeded: index[next] & 0xFFFF_FFFF) - 1
      let home = Int(truncatingIfNeeded: hot[movedSlot].key.hash) & mask
      if (next - home) & mask >= (next - hole) & mask {
        index[hole] = index[next]
        hole = next
      }
      next = (next + 1) & mask
    }
    index[hole] = 0
  }

  private mutating func grow() {
    let old = index
    index = [UInt64](repeating: 0, count: old.count * 2)
    mask = index.count - 1
    for cell in old where cell != 0 {
      let slot = Int(truncatingIfNeeded: cell & 0xFFFF_FFFF) - 1
      place(hash: hot[slot].key.hash, slot: slot)
    }
  }
}
