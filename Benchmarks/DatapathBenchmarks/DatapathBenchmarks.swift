import Addresses
import Benchmark
import Datapath
import Foundation
import Packets

/// A distinct UDP flow per index, as many senders' 5-tuples would give.
private func udpMatch(_ index: Int) -> FlowMatch {
  var match = FlowMatch(
    ingressPort: 1, ethernetSource: MACAddress(rawValue: 0x0200_0000_000A),
    ethernetDestination: MACAddress(rawValue: 0x0200_0000_000B))
  match.networkSource = IPv4Address(rawValue: 0x0A00_0000 | UInt32(index >> 16 & 0xFF))
  match.networkDestination = IPv4Address(10, 0, 1, 11)
  match.networkProtocol = .udp
  match.networkTOS = 0
  match.networkTTL = 64
  match.transportSource = UInt16(truncatingIfNeeded: index)
  match.transportDestination = 4000
  return match
}

/// A table with `count` flows and the matches to look them up in a shuffled order.
private func populated(_ count: Int) -> (FlowTable, [FlowMatch]) {
  var table = FlowTable(capacity: count)
  var matches: [FlowMatch] = []
  for index in 0..<count {
    let match = udpMatch(index)
    matches.append(match)
    table.install(
      FlowEntry(
        match: match, actions: [.setEthernetDestination(.zero), .output(port: 2)],
        tags: [FlowTagHash(UInt64(index % 64))]),
      now: 0)
  }
  var random = SystemRandomNumberGenerator()
  matches.shuffle(using: &random)
  return (table, matches)
}

let benchmarks: @Sendable () -> Void = {
  let lookups = Benchmark.Configuration(
    metrics: [.wallClock, .throughput, .instructions], scalingFactor: .mega,
    maxDuration: .seconds(3), maxIterations: 20)

  for flowCount in [1_000, 100_000] {
    Benchmark("FlowTable hit lookup (key), \(flowCount) flows", configuration: lookups) {
      benchmark in
      var (table, matches) = populated(flowCount)
      let keys = matches.map(FlowKey.init)
      var position = 0
      benchmark.startMeasurement()
      for _ in benchmark.scaledIterations {
        blackHole(table.lookup(keys[position], bytes: 64, now: 1))
        position = position + 1 == keys.count ? 0 : position + 1
      }
    }
    // As the packet loop looks up: a receive batch of 32 keys at a time.
    Benchmark(
      "FlowTable hit lookup (batches of 32 keys), \(flowCount) flows", configuration: lookups
    ) { benchmark in
      var (table, matches) = populated(flowCount)
      let keys = matches.map(FlowKey.init)
      let batch = 32
      let bytes = [Int](repeating: 64, count: batch)
      var results = [FlowTable.ActionSetID](repeating: .miss, count: batch)
      var position = 0
      benchmark.startMeasurement()
      var remaining = benchmark.scaledIterations.count
      while remaining > 0 {
        let count = min(batch, remaining, keys.count - position)
        keys.withUnsafeBufferPointer { all in
          bytes.withUnsafeBufferPointer { bytes in
            results.withUnsafeMutableBufferPointer { results in
              table.lookupBatch(
                UnsafeBufferPointer(rebasing: all[position..<position + count]),
                bytes: bytes, now: 1, into: results)
            }
          }
        }
        blackHole(results[count - 1])
        remaining -= count
        position = position + count == keys.count ? 0 : position + count
      }
    }
    Benchmark("FlowTable hit lookup (match → key), \(flowCount) flows", configuration: lookups) {
      benchmark in
      var (table, matches) = populated(flowCount)
      var position = 0
      benchmark.startMeasurement()
      for _ in benchmark.scaledIterations {
        blackHole(table.lookup(FlowKey(matches[position]), bytes: 64, now: 1))
        position = position + 1 == matches.count ? 0 : position + 1
      }
    }
  }

  // Issue 5's "install 10,000 flows that share a tag, then remove them by tag", as two
  // benchmarks so each operation reports its own time. One closure call is one sample
  // (no scaling factor), so the table is built outside the measured region: only the
  // installs, or only the removal, are timed.
  let tagged = Benchmark.Configuration(
    metrics: [.wallClock, .throughput, .mallocCountTotal], maxDuration: .seconds(3),
    maxIterations: 50)
  let shared = FlowTagHash(high: 7, low: 7)
  let taggedEntries = (0..<10_000).map {
    FlowEntry(match: udpMatch($0), actions: [.output(port: 2)], tags: [shared])
  }

  Benchmark("FlowTable install 10,000 flows sharing a tag", configuration: tagged) { benchmark in
    var table = FlowTable(capacity: 20_000)
    benchmark.startMeasurement()
    for entry in taggedEntries { table.install(entry, now: 0) }
    benchmark.stopMeasurement()
    blackHole(table.flowCount(taggedWith: shared))
  }

  Benchmark("FlowTable remove 10,000 flows by their shared tag", configuration: tagged) {
    benchmark in
    var table = FlowTable(capacity: 20_000)
    for entry in taggedEntries { table.install(entry, now: 0) }
    benchmark.startMeasurement()
    let removed = table.removeAll(taggedWith: shared)
    benchmark.stopMeasurement()
    blackHole(removed.count)
  }

  // Needs root and iproute2; creates and removes its own namespaces (see Forwarding.swift).
  Benchmark(
    "Forwarding 64-byte UDP between veths: datapath vs kernel bridge",
    configuration: .init(
      metrics: [
        .custom("datapath kpps", polarity: .prefersLarger, useScalingFactor: false),
        .custom("kernel bridge kpps", polarity: .prefersLarger, useScalingFactor: false),
        .custom("ratio (%)", polarity: .prefersLarger, useScalingFactor: false),
      ], maxDuration: .seconds(30), maxIterations: 1)
  ) { benchmark in
    guard geteuid() == 0 else {
      print("forwarding benchmark skipped: needs root")
      return
    }
    let rig = ForwardingRig()
    defer { rig.tearDown() }
    guard rig.setUp() else {
      print("forwarding benchmark skipped: could not create namespaces")
      return
    }
    do {
      let datapath = try rig.measureDatapath(seconds: 3)
      let bridge = try rig.measureBridge(seconds: 3)
      print("datapath \(Int(datapath)) pps, kernel bridge \(Int(bridge)) pps")
      benchmark.measurement(.custom("datapath kpps"), Int(datapath / 1_000))
      benchmark.measurement(.custom("kernel bridge kpps"), Int(bridge / 1_000))
      benchmark.measurement(.custom("ratio (%)"), Int(100 * datapath / max(bridge, 1)))
    } catch {
      print("forwarding benchmark failed: \(error)")
    }
  }
}
