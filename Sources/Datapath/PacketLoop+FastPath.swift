import CDatapath
import Packets

/// The port loop's fast path over one receive batch: parse every frame, look the keys up
/// in one batched probe of the flow table, then run the hits' actions and park the
/// misses, in arrival order (see the design notes in PacketLoop.swift and "Batches" in
/// FlowTable.swift).
extension PacketLoop {
  /// What a batch did, for the port counters.
  struct BatchTally {
    var accepted: UInt64 = 0
    var hits: UInt64 = 0
    var misses: UInt64 = 0
    var dropped: UInt64 = 0
  }

  /// A received frame, parsed, waiting for its lookup.
  struct StagedFrame {
    var packet: ParsedPacket
    var match: FlowMatch
    /// The frame in its receive slot, with the slot's headroom and the virtio_net_hdr's
    /// bytes (read by then) before it to grow into.
    var frame: FrameBuffer
    var offload: VirtioNetHeader
  }

  /// The per-batch arrays, kept between batches so the fast path does not allocate.
  struct FastPathScratch {
    var staged: [StagedFrame] = []
    var keys: [FlowKey] = []
    var lengths: [Int] = []
    var results = [FlowTable.ActionSetID](repeating: .miss, count: FlowTable.maximumBatch)

    init() {
      staged.reserveCapacity(FlowTable.maximumBatch)
      keys.reserveCapacity(FlowTable.maximumBatch)
      lengths.reserveCapacity(FlowTable.maximumBatch)
    }
  }

  /// Runs the fast path over the first `count` frames of the receive batch.
  func processPortFrames(_ count: Int, port: UInt32, now: UInt64, tally: inout BatchTally) {
    var start = 0
    while start < count {
      let end = min(count, start + FlowTable.maximumBatch)
      processChunk(start..<end, port: port, now: now, tally: &tally)
      start = end
    }
  }

  private func processChunk(
    _ range: Range<Int>, port: UInt32, now: UInt64, tally: inout BatchTally
  ) {
    scratch.staged.removeAll(keepingCapacity: true)
    scratch.keys.removeAll(keepingCapacity: true)
    scratch.lengths.removeAll(keepingCapacity: true)
    for index in range {
      let length = receiveBatch.length(index)
      guard length > VirtioNetHeader.size,
        receiveBatch.packetType(index) != UInt8(PACKET_OUTGOING)
      else { continue }
      tally.accepted += 1
      let base = receiveBatch.buffer(index)
      var offload = VirtioNetHeader(UnsafeRawBufferPointer(start: base, count: 10))
      let slot = UnsafeMutableRawBufferPointer(
        start: receiveBatch.slot(index), count: receiveBatch.headroom + length)
      guard
        let buffer = FrameBuffer(
          storage: slot, start: receiveBatch.headroom + VirtioNetHeader.size,
          count: length - VirtioNetHeader.size)
      else {
        tally.dropped += 1
        continue
      }
      let frame = buffer.bytes
      if offload.isChecksumPartial && !offload.isGSO {
        guard offload.completeChecksum(in: frame) else {
          tally.dropped += 1
          continue
        }
      }
      guard let packet = try? PacketParser.parse(UnsafeRawBufferPointer(frame)) else {
        tally.dropped += 1
        continue
      }
      let match = FlowMatch(packet, ingressPort: port)
      scratch.staged.append(
        StagedFrame(packet: packet, match: match, frame: buffer, offload: offload))
      scratch.keys.append(FlowKey(match))
      scratch.lengths.append(frame.count)
    }
    guard !scratch.keys.isEmpty else { return }
    scratch.keys.withUnsafeBufferPointer { keys in
      scratch.lengths.withUnsafeBufferPointer { lengths in
        scratch.results.withUnsafeMutableBufferPointer { results in
          table.lookupBatch(keys, bytes: lengths, now: now, into: results)
        }
      }
    }
    // The table is not written until the batch is done, so the action sets stay valid.
    for position in 0..<scratch.staged.count {
      let staged = scratch.staged[position]
      let actionSet = scratch.results[position]
      if actionSet.isMiss {
        park(
          key: scratch.keys[position], match: staged.match,
          frame: UnsafeRawBufferPointer(staged.frame.bytes), offload: staged.offload, now: now)
        tally.misses += 1
        continue
      }
      var packet = staged.packet
      var frame = staged.frame
      let outcome = ActionExecutor.execute(
        table.actions(actionSet), packet: &packet, frame: &frame,
        offload: staged.offload, output: &queue)
      if case .completed = outcome { tally.hits += 1 } else { tally.dropped += 1 }
    }
  }
}
