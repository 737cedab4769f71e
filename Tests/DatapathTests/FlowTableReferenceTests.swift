import Datapath
import MidgeTestSupport
import Packets
import Testing

/// The trivial model the flow table is checked against: a list ordered by recency,
/// searched linearly.
private struct ReferenceFlowTable {
  struct Flow {
    var entry: FlowEntry
    var stats: FlowStats
    var idle: UInt64
    var hard: UInt64
  }

  let capacity: Int
  /// Most recently used first.
  var flows: [Flow] = []

  static func nanos(_ duration: Duration?) -> UInt64 {
    guard let duration else { return 0 }
    return UInt64(duration.components.seconds) * 1_000_000_000
      + UInt64(duration.components.attoseconds / 1_000_000_000)
  }

  mutating func install(_ entry: FlowEntry, now: UInt64) -> RemovedFlow? {
    flows.removeAll { $0.entry.match == entry.match }
    var evicted: RemovedFlow?
    if flows.count >= capacity, let last = flows.popLast() {
      evicted = RemovedFlow(snapshot: Self.snapshot(last), reason: .evicted)
    }
    var unique: [FlowTagHash] = []
    for tag in entry.tags where !unique.contains(tag) { unique.append(tag) }
    var stored = entry
    stored.tags = unique
    flows.insert(
      Flow(
        entry: stored, stats: FlowStats(installedAt: now, lastUsed: now),
        idle: Self.nanos(entry.idleTimeout), hard: Self.nanos(entry.hardTimeout)), at: 0)
    return evicted
  }

  mutating func lookup(_ match: FlowMatch, bytes: Int, now: UInt64) -> [DatapathAction]? {
    guard let position = flows.firstIndex(where: { $0.entry.match == match }) else { return nil }
    var flow = flows.remove(at: position)
    flow.stats.packets += 1
    flow.stats.bytes += UInt64(bytes)
    flow.stats.lastUsed = now
    flows.insert(flow, at: 0)
    return flow.entry.actions
  }

  mutating func remove(_ match: FlowMatch) -> RemovedFlow? {
    guard let position = flows.firstIndex(where: { $0.entry.match == match }) else { return nil }
    return RemovedFlow(snapshot: Self.snapshot(flows.remove(at: position)), reason: .removed)
  }

  mutating func removeAll(taggedWith tag: FlowTagHash) -> [RemovedFlow] {
    let gone = flows.filter { $0.entry.tags.contains(tag) }
    flows.removeAll { $0.entry.tags.contains(tag) }
    return gone.map { RemovedFlow(snapshot: Self.snapshot($0), reason: .tagInvalidated) }
  }

  mutating func expire(now: UInt64) -> [RemovedFlow] {
    var removed: [RemovedFlow] = []
    flows.removeAll { flow in
      if flow.hard != 0, now - flow.stats.installedAt >= flow.hard {
        removed.append(RemovedFlow(snapshot: Self.snapshot(flow), reason: .hardTimeout))
        return true
      }
      if flow.idle != 0, now - flow.stats.lastUsed >= flow.idle {
        removed.append(RemovedFlow(snapshot: Self.snapshot(flow), reason: .idleTimeout))
        return true
      }
      return false
    }
    return removed
  }

  func dump() -> [FlowSnapshot] { flows.map(Self.snapshot) }

  static func snapshot(_ flow: Flow) -> FlowSnapshot {
    FlowSnapshot(entry: flow.entry, stats: flow.stats)
  }
}

/// Orders removal reports so two tables' reports can be compared regardless of order.
private func sorted(_ flows: [RemovedFlow]) -> [RemovedFlow] {
  flows.sorted { FlowKey($0.snapshot.entry.match).hash < FlowKey($1.snapshot.entry.match).hash }
}

@Suite("Flow table against a linear reference")
struct FlowTableReferenceTests {
  @Test("random operation sequences agree with the reference", arguments: [1, 2, 3, 4, 5, 6])
  func randomSequences(seed: UInt64) {
    var random = SplitMix64(seed: seed)
    let capacity = [4, 16, 64][Int(seed % 3)]
    var table = FlowTable(capacity: capacity)
    var reference = ReferenceFlowTable(capacity: capacity)
    // A small pool of matches (including ARP and absent layers) so operations collide.
    var pool: [FlowMatch] = (0..<40).map { Fixture.udpMatch($0 % 20, port: UInt32($0 / 20)) }
    var arp = FlowMatch(ingressPort: 3, ethernetSource: Fixture.macA, etherType: .arp)
    arp.arpOperation = .request
    arp.arpSenderProtocolAddress = Fixture.ipA
    pool.append(arp)
    pool.append(FlowMatch(ingressPort: 3, ethernetSource: Fixture.macB, etherType: .ipv6))
    let tags = (0..<6).map { FlowTagHash(UInt64($0)) }
    var now: UInt64 = 1_000

    for step in 0..<3_000 {
      let match = pool[Int(random.next() % UInt64(pool.count))]
      switch random.next() % 10 {
      case 0, 1, 2:
        let tagCount = Int(random.next() % 3)
        let entry = FlowEntry(
          match: match, actions: [.output(port: UInt32(step % 7))],
          tags: (0..<tagCount).map { _ in tags[Int(random.next() % UInt64(tags.count))] },
          idleTimeout: random.next() % 3 == 0 ? .nanoseconds(Int(random.next() % 200) + 1) : nil,
          hardTimeout: random.next() % 4 == 0 ? .nanoseconds(Int(random.next() % 400) + 1) : nil)
        let evicted = table.install(entry, now: now)
        #expect(evicted == reference.install(entry, now: now), "install at step \(step)")
      case 3, 4, 5:
        let bytes = Int(random.next() % 1_500)
        let got = table.lookup(match, bytes: bytes, now: now)
        #expect(got == reference.lookup(match, bytes: bytes, now: now), "lookup at step \(step)")
      case 6 where step % 2 == 0:
        // A batch of up to 64 keys, repeats and misses included, against one reference
        // lookup per key in the same order.
        let batch = (0..<Int(random.next() % 64) + 1).map { _ in
          pool[Int(random.next() % UInt64(pool.count))]
        }
        let keys = batch.map(FlowKey.init)
        let lengths = batch.map { _ in Int(random.next() % 1_500) }
        var results = [FlowTable.ActionSetID](repeating: .miss, count: batch.count)
        keys.withUnsafeBufferPointer { keys in
          lengths.withUnsafeBufferPointer { lengths in
            results.withUnsafeMutableBufferPointer { results in
              table.lookupBatch(keys, bytes: lengths, now: now, into: results)
            }
          }
        }
        for (position, match) in batch.enumerated() {
          let expected = reference.lookup(match, bytes: lengths[position], now: now)
          let got = results[position].isMiss ? nil : table.actions(results[position])
          #expect(got == expected, "batched lookup \(position) at step \(step)")
        }
      case 6:
        #expect(table.remove(match) == reference.remove(match), "remove at step \(step)")
      case 7:
        let tag = tags[Int(random.next() % UInt64(tags.count))]
        let got = sorted(table.removeAll(taggedWith: tag))
        #expect(got == sorted(reference.removeAll(taggedWith: tag)), "tag at step \(step)")
        #expect(table.flowCount(taggedWith: tag) == 0)
      case 8:
        let got = sorted(table.expire(now: now))
        #expect(got == sorted(reference.expire(now: now)), "expire at step \(step)")
      default:
        now += random.next() % 60
      }
      #expect(table.count == reference.flows.count, "count at step \(step)")
      if step % 50 == 0 {
        #expect(table.dump() == reference.dump(), "dump at step \(step)")
      }
    }
    #expect(table.dump() == reference.dump())
  }

  @Test("remove by tag leaves other flows and keeps the index consistent at scale")
  func tagsAtScale() {
    var table = FlowTable(capacity: 100_000)
    let shared = FlowTagHash(high: 1, low: 1)
    for index in 0..<10_000 {
      let tags = [shared, FlowTagHash(UInt64(index % 10))]
      table.install(
        FlowEntry(match: Fixture.udpMatch(index), actions: [.output(port: 2)], tags: tags),
        now: 0)
    }
    for index in 10_000..<12_000 {
      table.install(
        FlowEntry(match: Fixture.udpMatch(index), actions: [.output(port: 3)]), now: 0)
    }
    #expect(table.flowCount(taggedWith: shared) == 10_000)
    #expect(table.removeAll(taggedWith: FlowTagHash(3)).count == 1_000)
    #expect(table.removeAll(taggedWith: shared).count == 9_000)
    #expect(table.count == 2_000)
    #expect(table.tagCount == 0)
    for index in 0..<12_000 {
      let hit = table.lookup(Fixture.udpMatch(index), bytes: 64, now: 1)
      #expect((hit != nil) == (index >= 10_000))
    }
  }

  @Test("the LRU flow is evicted at the cap; a lookup refreshes recency")
  func eviction() {
    var table = FlowTable(capacity: 3)
    for index in 0..<3 {
      table.install(FlowEntry(match: Fixture.udpMatch(index), actions: []), now: UInt64(index))
    }
    _ = table.lookup(Fixture.udpMatch(0), bytes: 10, now: 5)
    let evicted = table.install(FlowEntry(match: Fixture.udpMatch(3), actions: []), now: 6)
    #expect(evicted?.snapshot.entry.match == Fixture.udpMatch(1))
    #expect(evicted?.reason == .evicted)
    #expect(table.snapshot(of: Fixture.udpMatch(0))?.stats.packets == 1)
  }

  @Test("idle and hard timeouts with an injected clock")
  func timeouts() {
    var table = FlowTable()
    table.install(
      FlowEntry(match: Fixture.udpMatch(1), actions: [], idleTimeout: .seconds(10)), now: 0)
    table.install(
      FlowEntry(match: Fixture.udpMatch(2), actions: [], hardTimeout: .seconds(15)), now: 0)
    let second: UInt64 = 1_000_000_000
    _ = table.lookup(Fixture.udpMatch(1), bytes: 1, now: 8 * second)
    #expect(table.expire(now: 12 * second).isEmpty)
    let hard = table.expire(now: 15 * second)
    #expect(hard.map(\.reason) == [.hardTimeout])
    let idle = table.expire(now: 18 * second)
    #expect(idle.map(\.reason) == [.idleTimeout])
    #expect(table.isEmpty)
  }
}
