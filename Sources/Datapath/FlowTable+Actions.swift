/// Interned action lists (see "Actions" in the design notes of FlowTable.swift).
extension FlowTable {
  /// Identifies one interned action list of a table; valid until the table's next write.
  public struct ActionSetID: Hashable, Sendable {
    @usableFromInline let raw: UInt32

    @inlinable init(raw: UInt32) { self.raw = raw }

    /// What a batched lookup stores for a key no flow matches.
    public static let miss = ActionSetID(raw: .max)

    /// True for `miss`.
    @inlinable public var isMiss: Bool { raw == .max }
  }

  /// The distinct action lists of the installed flows, each stored once with a count of
  /// the flows using it. Only the writer touches the dictionary and the counts.
  @usableFromInline
  struct ActionPool: Sendable {
    @usableFromInline var lists: [[DatapathAction]] = []
    var users: [Int] = []
    var ids: [[DatapathAction]: UInt32] = [:]
    var free: [UInt32] = []

    /// The id of `actions`, adding it if no flow uses that list yet.
    mutating func intern(_ actions: [DatapathAction]) -> UInt32 {
      if let id = ids[actions] {
        users[Int(id)] += 1
        return id
      }
      let id: UInt32
      if let recycled = free.popLast() {
        id = recycled
        lists[Int(id)] = actions
        users[Int(id)] = 1
      } else {
        id = UInt32(lists.count)
        lists.append(actions)
        users.append(1)
      }
      ids[actions] = id
      return id
    }

    /// One flow fewer uses `id`; the list goes when none does.
    mutating func release(_ id: UInt32) {
      let index = Int(id)
      users[index] -= 1
      guard users[index] == 0 else { return }
      ids[lists[index]] = nil
      lists[index] = []
      free.append(id)
    }
  }

  /// The actions of a flow found by `lookupBatch`.
  @inlinable
  public func actions(_ id: ActionSetID) -> [DatapathAction] {
    actionPool.lists[Int(id.raw)]
  }
}
