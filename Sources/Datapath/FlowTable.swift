import Packets

// MARK: - Design: the flow table
//
// What it is. The exact-match cache of simulation results. The key is the packet's whole
// `FlowMatch` (ingress port, tunnel key, L2, L3, L4 fields), packed into a `FlowKey` and
// hashed once per packet; the value is the flow's actions plus its counters (packets,
// bytes, last used), its tags and its timeouts. There are no wildcards: a miss is cheap
// to repair (simulate once, install) and exact match keeps the hit path to one probe.
//
// Layout. An open-addressing index (linear probing, load factor at most 1/2) of 64-bit
// words: the high half of the key's hash as a fingerprint, the low half the flow's slot.
// A probe compares fingerprints first, so a lookup touches the index line, then the
// flow's hot record: its key, its counters (packets, bytes, last used, recency) and the
// id of its actions — plain words, about two cache lines, and no reference counting.
// Everything cold — the installed entry with its match and tags, timeouts, install time —
// sits in a parallel array that only install, removal, expiry and dump visit. Removal
// uses backward shift deletion, so there are no tombstones and probe chains never rot.
// Slots are recycled through a free list; a generation number per slot lets stale
// references in the tag index be recognised.
//
// Actions. Flows' action lists are interned: each distinct list is stored once, with a
// count of the flows using it, and a hot record holds its 32-bit id. Many flows share a
// list (every flow from one port to one destination port does), a hit then reads an
// array the cache already holds, and the hot record stays free of references: retaining
// a per-flow array on every hit cost an atomic increment on one more cold line, and on
// x86 that locked instruction also stopped the next lookups' loads from starting early.
//
// Batches. With 100,000 flows the index and the records are far larger than the caches,
// so one lookup waits for memory two or three times (~150 ns here). `lookupBatch` takes
// a receive batch's keys (up to 64) and pipelines them: while it probes key i it has
// asked for the home index cell of key i + 16 and for the record that cell's fingerprint
// points at for key i + 8, so a steady stream of cache-line requests is in flight
// instead of one wait per probe; the hits are counted in a second pass over records
// then in cache. About 45 ns per lookup instead of 150 (three passes over the whole
// batch — all cells, then all records, then the probes — gave ~65: bursts of 64 requests
// overflow the core's outstanding-miss slots). The packet loop looks up every batch so.
//
// Tags. An index tag → [slot, generation] lists the flows that depend on each tag, so
// invalidating one device touches only its flows. When a flow goes for another reason,
// its entries in other tags' lists are left to be skipped (generation mismatch) and
// dropped when the list is compacted (once it is more than twice its live count) or
// when the last live flow of the tag goes, which removes the tag altogether.
//
// Timeouts and eviction. Each flow may have an idle and a hard timeout. `expire(now:)`
// sweeps the table (the packet loop calls it about once a second), so a flow may outlive
// its timeout by up to one sweep period; lookups do not check timeouts, which keeps the
// hit path free of a clock comparison. The table has a size cap; installing into a full
// table evicts the least recently used flow. Recency is a counter the table bumps on each
// install and hit and stores in the flow's hot record — one store in a line the hit
// writes anyway. An intrusive LRU list was tried first: moving a flow to the front
// writes its two neighbours, two more cache misses per hit on a large table. Instead,
// eviction scans for the oldest 1/64 of the table once and keeps them as candidates,
// oldest first; a candidate hit since the scan is skipped. That is exact LRU (flows not
// among the candidates were newer than all of them at the scan and only get newer) at
// O(64) amortised per eviction. Time is a caller-supplied nanosecond count, never read
// here: the packet loop reads its clock once per batch, and tests inject any clock.
//
// Concurrency: one table per packet thread. The brief allows one writer (the agent) and
// lookups on packet threads without a global lock on the hot path. Two designs were
// considered. OVS's classifier publishes versioned, RCU-protected structures that all
// threads read; that needs safe memory reclamation (RCU quiescent states or hazard
// pointers), which Swift's reference counting does not give for free, and the per-flow
// counters then become shared atomics written by every thread that hits the flow. The
// alternative chosen here follows from the key: it contains the ingress port, and each
// port is served by exactly one packet loop, so each flow is only ever looked up by one
// thread. So `FlowTable` is a plain single-owner value (not thread safe, no locks, no
// atomics), and the datapath gives each packet loop its own table holding the flows of
// its ports. The agent's writes (install, remove, remove-by-tag, dump) are commands
// posted to the owning loop's mailbox — remove-by-tag is posted to all loops — and the
// loop applies them between batches; the loop checks an atomic "pending" counter once
// per batch and only then takes the mailbox lock. The hit path therefore touches no lock
// and no cache line another core writes, counters are plain stores, and a write is
// visible to its loop within one batch (or one poll timeout on an idle interface). The
// cost: a write is asynchronous, and dump has to ask each loop.
//
// Reference. `Tests/DatapathTests/FlowTableReferenceTests.swift` checks this table
// against a linear list on random sequences of operations, with an injected clock.

/// The exact-match flow table of one packet loop; see the design notes at the top of
/// this file. A single-owner value: not to be shared between threads.
public struct FlowTable: Sendable {
  /// The most flows the table holds; installing beyond it evicts the least recently used.
  public let capacity: Int
  /// The number of flows installed.
  public internal(set) var count = 0

  /// The open-addressing index: 0 for an empty cell, else the key hash's high half ORed
  /// with slot + 1.
  @usableFromInline var index: [UInt64]
  /// `index.count - 1`; the index size is a power of two.
  @usableFromInline var mask: Int
  /// Per slot: the packed key and what a hit reads and writes.
  @usableFromInline var hot: [HotRecord] = []
  /// The distinct action lists, shared by the flows that use them.
  @usableFromInline var actionPool = ActionPool()
  /// Per slot: what only the writer reads.
  var cold: [ColdRecord] = []
  /// Recycled slots.
  var freeSlots: [UInt32] = []
  /// Counts installs and hits; a flow's `recency` is this counter at its last use.
  @usableFromInline var useCounter: UInt64 = 0
  /// The oldest flows found by the last eviction scan, oldest last (see
  /// FlowTable+Eviction.swift).
  var evictionCandidates: [EvictionCandidate] = []
  /// Tag → the flows indexed under it.
  var tagIndex: [FlowTagHash: TagList] = [:]

  /// Creates an empty table holding at most `capacity` flows (at least 1).
  public init(capacity: Int = 1 << 20) {
    self.capacity = max(1, capacity)
    index = [UInt64](repeating: 0, count: 16)
    mask = 15
  }

  /// True when no flow is installed.
  public var isEmpty: Bool { count == 0 }

  /// Looks up a packet's flow. On a hit, counts the packet (`bytes` long) at time `now`,
  /// marks the flow most recently used and returns its actions; nil on a miss.
  @inlinable
  public mutating func lookup(_ key: FlowKey, bytes: Int, now: UInt64) -> [DatapathAction]? {
    guard let slot = find(key) else { return nil }
    return actionPool.lists[Int(hit(slot, bytes: bytes, now: now))]
  }

  /// Looks up by match (packs and hashes it first).
  public mutating func lookup(_ match: FlowMatch, bytes: Int, now: UInt64) -> [DatapathAction]? {
    lookup(FlowKey(match), bytes: bytes, now: now)
  }

  /// The flow installed for `match`, without counting a packet or touching its recency.
  public func snapshot(of match: FlowMatch) -> FlowSnapshot? {
    find(FlowKey(match)).map(snapshot(ofSlot:))
  }

  /// Installs a flow at time `now`, replacing any flow with the same match (its counters
  /// start again). When the table is full, the least recently used flow is evicted and
  /// returned.
  @discardableResult
  public mutating func install(_ entry: FlowEntry, now: UInt64) -> RemovedFlow? {
    let key = FlowKey(entry.match)
    if let existing = find(key) {
      _ = removeSlot(existing, reason: .removed)
    }
    var evicted: RemovedFlow?
    if count >= capacity, let victim = leastRecentlyUsed() {
      evicted = removeSlot(victim, reason: .evicted)
    }
    insert(key, entry: entry, now: now)
    return evicted
  }

  /// Removes the flow installed for `match`, returning it; nil if there is none.
  @discardableResult
  public mutating func remove(_ match: FlowMatch) -> RemovedFlow? {
    guard let slot = find(FlowKey(match)) else { return nil }
    return removeSlot(slot, reason: .removed)
  }

  /// Every installed flow, most recently used first.
  public func dump() -> [FlowSnapshot] {
    let live = (0..<cold.count).filter { cold[$0].live }
    return live.sorted { hot[$0].recency > hot[$1].recency }.map(snapshot(ofSlot:))
  }

  /// Removes every flow.
  public mutating func removeAll() {
    self = FlowTable(capacity: capacity)
  }
}
