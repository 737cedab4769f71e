import Packets

/// Applying the agent's commands, and parked misses.
extension PacketLoop {
  /// Applies posted commands, taking the mailbox lock only when there are some.
  func applyCommands() {
    guard pending.load(ordering: .acquiring) > 0 else { return }
    let commands = mailbox.withLock { mailbox in
      let taken = mailbox
      mailbox.removeAll(keepingCapacity: true)
      return taken
    }
    pending.subtract(commands.count, ordering: .acquiringAndReleasing)
    let now = DatapathClock.now()
    for command in commands {
      apply(command, now: now)
    }
    queue.flush()
    counters.flows.store(table.count, ordering: .relaxed)
  }

  private func apply(_ command: Command, now: UInt64) {
    switch command {
    case .install(let entry):
      if let evicted = table.install(entry, now: now) {
        onEvent(.flowsRemoved([evicted]))
      }
      let key = FlowKey(entry.match)
      if let miss = parked.removeValue(forKey: key) {
        for packet in miss.packets {
          let actions = table.lookup(key, bytes: packet.frame.count, now: now) ?? entry.actions
          run(actions, on: packet)
        }
        counters.hits.add(UInt64(miss.packets.count), ordering: .relaxed)
      }
    case .remove(let match):
      table.remove(match)
    case .removeTagged(let tag):
      table.removeAll(taggedWith: tag)
    case .completeMiss(let match, let actions):
      if let miss = parked.removeValue(forKey: FlowKey(match)) {
        for packet in miss.packets { run(actions, on: packet) }
      }
    case .sendMessage(let bytes, let remote):
      bytes.withUnsafeBytes { message in
        queue.encapsulate(
          tunnelKey: DatapathSwitch.messageTunnelKey, remote: remote, frame: message,
          offload: VirtioNetHeader())
      }
    case .execute(let frame, let actions):
      run(actions, on: ParkedPacket(frame: frame, offload: VirtioNetHeader()))
    case .addPort(let port, let socket):
      queue.ports[port] = socket
    case .removePort(let port):
      queue.ports[port] = nil
    case .mapTunnelKey(let key, let port):
      tunnelPorts[key] = port
    case .setTunnelPeers(let peers):
      tunnelPeers = peers
    case .dump(let continuation):
      continuation.resume(returning: table.dump())
    }
  }

  /// Runs `actions` on a parked packet, copied behind `ActionExecutor.headroom` free bytes
  /// so a VLAN push has room, as in a receive slot.
  private func run(_ actions: [DatapathAction], on parkedPacket: ParkedPacket) {
    let headroom = ActionExecutor.headroom
    let count = parkedPacket.frame.count
    var storage = [UInt8](repeating: 0, count: headroom + count)
    let failedBefore = queue.failed
    let sentBefore = queue.sent
    storage.withUnsafeMutableBytes { bytes in
      guard var frame = FrameBuffer(storage: bytes, start: headroom, count: count) else { return }
      frame.bytes.copyBytes(from: parkedPacket.frame)
      guard var packet = try? PacketParser.parse(UnsafeRawBufferPointer(frame.bytes)) else {
        return
      }
      _ = ActionExecutor.execute(
        actions, packet: &packet, frame: &frame, offload: parkedPacket.offload, output: &queue)
    }
    queue.flush()
    counters.transmitted.add(queue.sent &- sentBefore, ordering: .relaxed)
    counters.dropped.add(queue.failed &- failedBefore, ordering: .relaxed)
  }

  /// Parks a missed frame; the first of its key goes to the miss handler.
  func park(
    key: FlowKey, match: FlowMatch, frame: UnsafeRawBufferPointer, offload: VirtioNetHeader,
    now: UInt64
  ) {
    let packet = ParkedPacket(frame: Array(frame), offload: offload)
    if let index = parked.index(forKey: key) {
      if parked.values[index].packets.count < PacketLoop.maximumParkedPerKey {
        parked.values[index].packets.append(packet)
      } else {
        counters.dropped.add(1, ordering: .relaxed)
      }
      return
    }
    guard parked.count < PacketLoop.maximumParkedKeys else {
      counters.dropped.add(1, ordering: .relaxed)
      return
    }
    parked[key] = PendingMiss(packets: [packet], since: now)
    newMisses.append(DatapathMiss(match: match, frame: packet.frame))
  }
}
