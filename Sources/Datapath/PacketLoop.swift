import CDatapath
import Logging
import Packets
import Synchronization

// MARK: - Design: the packet loop
//
// One loop per attached interface, plus one for the tunnel socket, each on its own OS
// thread (`LoopThread`). A port loop owns everything on its hot path: the AF_PACKET
// socket's receive batch, its `FlowTable` (the flows whose ingress port it serves — see
// the design notes in FlowTable.swift), its transmit queue with its own view of the
// other ports' sockets, its parked misses and its counters. Nothing on that path is
// shared, so nothing on it is locked.
//
// One iteration:
//   1. If the atomic `pending` counter says the agent posted commands, take the mailbox
//      (one lock, only then) and apply them: install/remove flows, remove by tag, add or
//      drop a port from the transmit view, map a tunnel key, answer a dump.
//   2. poll(2) the socket for up to 100 ms, then recvmmsg up to `batchSize` frames.
//   3. Read the clock once. For each frame: read the virtio_net_hdr; complete a partial
//      checksum in software unless the frame is a GSO super-packet (those keep their
//      offload and pass it on, so the kernel segments them on the way out); parse; pack
//      the match into a `FlowKey`. Then look the batch's keys up in one batched probe
//      (PacketLoop+FastPath.swift) and, in arrival order: a hit runs the actions through
//      `ActionExecutor` into the transmit queue. A miss parks the frame under its key;
//      the first miss of a key also calls the miss handler, so later packets of the
//      same flow wait for that simulation instead of starting another.
//   4. Flush the transmit queue: one sendmmsg per destination.
//   5. About every 200 ms check the link (SIOCGIFFLAGS); a gone or down interface is
//      reported and the loop ends, detaching the port — never fatal to the datapath. About
//      every second expire flows and parked misses.
//
// Misses. Parked packets are held per key (at most 32 per key, at most 1,024 keys, at
// most 2 seconds); installing a flow for the key runs its actions on them in arrival
// order, and `completeMiss` runs given actions without installing (for packets the
// agent answers itself). Beyond the limits packets are dropped and counted, not queued:
// a simulation that never answers must not grow memory.
//
// The tunnel loop receives VXLAN-format datagrams on the tunnel UDP socket, maps the VNI
// (the egress port's tunnel key) to a local port and sends the inner frame there, with
// no flow lookup and no simulation: the sending host already decided.
//
// Inter-loop sends. A loop sends on other ports' sockets directly (sendmmsg is safe on a
// socket from several threads); sockets are reference counted, and a socket is closed
// only when the last loop has dropped it from its transmit view.

/// A packet loop; see the design notes at the top of this file. Only `mailbox`,
/// `pending`, `running` and `counters` are touched from other threads.
final class PacketLoop: @unchecked Sendable {
  /// What the loop reads.
  enum Source {
    case port(UInt32, PacketSocket)
    case tunnel(TunnelSocket)
  }

  /// What the agent asks of a loop.
  enum Command: Sendable {
    case install(FlowEntry)
    case remove(FlowMatch)
    case removeTagged(FlowTagHash)
    case completeMiss(FlowMatch, [DatapathAction])
    case execute([UInt8], [DatapathAction])
    case sendMessage([UInt8], TunnelEndpoint)
    case addPort(UInt32, PacketSocket)
    case removePort(UInt32)
    case mapTunnelKey(UInt32, UInt32?)
    case setTunnelPeers(Set<TunnelEndpoint>?)
    case dump(CheckedContinuation<[FlowSnapshot], Never>)
  }

  /// A frame waiting for its flow.
  struct ParkedPacket {
    var frame: [UInt8]
    var offload: VirtioNetHeader
  }

  struct PendingMiss {
    var packets: [ParkedPacket]
    var since: UInt64
  }

  let source: Source
  let counters = PortCounters()
  let mailbox = Mutex<[Command]>([])
  let pending = Atomic<Int>(0)
  let running = Atomic<Bool>(true)
  /// A non-blocking pipe: `post` writes a byte so a loop sleeping in poll(2) wakes for
  /// the command at once instead of at its next timeout.
  let wakeReader: Int32
  let wakeWriter: Int32
  /// When a failed system call the loop carried on after was last logged (see
  /// `report`); written from the loop's thread and from posting threads.
  let lastReport = Atomic<UInt64>(0)

  let logger: Logger
  /// Takes the new misses of one receive batch.
  let onMisses: @Sendable ([DatapathMiss]) -> Void
  let onEvent: @Sendable (DatapathEvent) -> Void
  /// Called from the loop's thread when it ends on its own (interface gone or down).
  let onDetached: @Sendable (UInt32) -> Void

  var table: FlowTable
  var queue: TransmitQueue
  var receiveBatch: MessageBatch
  var parked: [FlowKey: PendingMiss] = [:]
  var scratch = FastPathScratch()
  /// First misses of their keys in the current batch, handed over when it is done.
  var newMisses: [DatapathMiss] = []
  var tunnelPorts: [UInt32: UInt32] = [:]
  /// The endpoints tunnel datagrams are taken from (nil: any).
  var tunnelPeers: Set<TunnelEndpoint>?
  var nextLinkCheck: UInt64 = 0
  var nextExpiry: UInt64 = 0
  var sawCarrier = false

  static let maximumParkedPerKey = 32
  static let maximumParkedKeys = 1_024
  static let parkingTimeout: UInt64 = 2_000_000_000

  init(
    source: Source, flowCapacity: Int, batchSize: Int, logger: Logger,
    onMisses: @escaping @Sendable ([DatapathMiss]) -> Void,
    onEvent: @escaping @Sendable (DatapathEvent) -> Void,
    onDetached: @escaping @Sendable (UInt32) -> Void
  ) throws(DatapathError) {
    // First, so that a failure leaves nothing allocated behind.
    let pipe: (reader: Int32, writer: Int32)
    do throws(SystemCallError) {
      pipe = try Syscall.nonBlockingPipe()
    } catch {
      throw DatapathError(.resources, "wake-up pipe of a packet loop", cause: error)
    }
    wakeReader = pipe.reader
    wakeWriter = pipe.writer
    self.source = source
    self.logger = logger
    self.onMisses = onMisses
    self.onEvent = onEvent
    self.onDetached = onDetached
    table = FlowTable(capacity: flowCapacity)
    queue = TransmitQueue()
    // Room for a virtio_net_hdr and a 64 KB GSO frame, and, before a port's frames,
    // for the VLAN tags its flows push.
    let headroom: Int
    if case .port = source { headroom = ActionExecutor.headroom } else { headroom = 0 }
    receiveBatch = MessageBatch(
      capacity: batchSize, bufferSize: 65_536 + 64, headroom: headroom)
    receiveBatch.prepareReceive()
  }

  deinit {
    receiveBatch.deallocate()
    queue.deallocate()
    Syscall.closeOwned(wakeReader)
    Syscall.closeOwned(wakeWriter)
  }

  var descriptor: Int32 {
    switch source {
    case .port(_, let socket): return socket.descriptor
    case .tunnel(let socket): return socket.descriptor
    }
  }

  /// Queues a command for the loop's next iteration.
  ///
  /// Only the first command since the loop last took the mailbox writes to the wake pipe:
  /// a burst of installs costs one wake-up, not one syscall and context switch each. The
  /// loop polls without sleeping while `pending` is non-zero after taking the mailbox, so
  /// a command posted between its take and its count update is never left waiting.
  func post(_ command: Command) {
    mailbox.withLock { $0.append(command) }
    if pending.add(1, ordering: .acquiringAndReleasing).oldValue == 0 { wake() }
  }

  /// Wakes the loop if it is sleeping in poll(2).
  func wake() {
    var byte: UInt8 = 1
    do throws(SystemCallError) {
      _ = try Syscall.write(wakeWriter, &byte, 1)
    } catch {
      // A full pipe already holds a wake-up the loop has not drained.
      if !error.wouldBlock { report(error, "waking the loop") }
    }
  }

  /// Logs a failed system call the loop carries on after, at most once a second per
  /// loop: a call that fails on every iteration must not flood the log, and must not
  /// fail silently either.
  func report(_ error: SystemCallError, _ doing: String) {
    let now = DatapathClock.now()
    let last = lastReport.load(ordering: .relaxed)
    guard now &- last >= 1_000_000_000 || last == 0,
      lastReport.compareExchange(expected: last, desired: now, ordering: .relaxed).exchanged
    else { return }
    var metadata: Logger.Metadata = ["datapath.error": "\(error)"]
    if case .port(let port, let socket) = source {
      metadata["datapath.port"] = "\(port)"
      metadata["datapath.interface"] = "\(socket.interface)"
    }
    logger.info("packet loop: \(doing) failed", metadata: metadata)
  }

  /// The loop's thread body: runs until stopped or detached.
  func run() {
    while running.load(ordering: .relaxed) {
      applyCommands()
      let idle: Int32 = pending.load(ordering: .acquiring) > 0 ? 0 : 100
      do throws(SystemCallError) {
        if try waitReadable(descriptor, wake: wakeReader, milliseconds: idle) {
          let received = try receiveBatch.receive(on: descriptor)
          if received > 0 { process(received) }
        }
      } catch {
        if case .port(let port, let socket) = source, error.interfaceGone {
          end(port: port, socket: socket, reason: "receive failed with errno \(error.errno)")
          return
        }
        report(error, "waiting or receiving")
      }
      let now = DatapathClock.now()
      if now >= nextLinkCheck, case .port(let port, let socket) = source {
        nextLinkCheck = now + 200_000_000
        if let reason = linkProblem(socket) {
          end(port: port, socket: socket, reason: reason)
          return
        }
      }
      if now >= nextExpiry {
        nextExpiry = now + 1_000_000_000
        expire(now: now)
      }
    }
    failParkedOnStop()
  }

  /// Why the port must be detached, or nil. Carrier loss counts only once carrier has
  /// been seen: IFF_RUNNING follows the operational state, which the kernel updates
  /// asynchronously and may still be off just after the interface was set up.
  private func linkProblem(_ socket: PacketSocket) -> String? {
    let state: (up: Bool, running: Bool)
    do throws(SystemCallError) {
      state = try socket.linkState()
    } catch {
      return error.noSuchDevice ? "interface removed" : "link state unreadable: \(error)"
    }
    if !state.up { return "interface down" }
    if state.running {
      sawCarrier = true
    } else if sawCarrier {
      return "link down (no carrier)"
    }
    return nil
  }

  private func end(port: UInt32, socket: PacketSocket, reason: String) {
    running.store(false, ordering: .relaxed)
    logger.info(
      "interface detached",
      metadata: [
        "datapath.port": "\(port)", "datapath.interface": "\(socket.interface)",
        "datapath.reason": "\(reason)",
      ])
    onEvent(.detached(port: port, interface: socket.interface, reason: reason))
    onDetached(port)
    failParkedOnStop()
  }

  private func failParkedOnStop() {
    let count = parked.values.reduce(0) { $0 + $1.packets.count }
    parked.removeAll()
    counters.dropped.add(UInt64(count), ordering: .relaxed)
  }

  /// Processes `count` received frames.
  private func process(_ count: Int) {
    let now = DatapathClock.now()
    var tally = BatchTally()
    let sentBefore = queue.sent
    let failedBefore = queue.failed
    switch source {
    case .port(let port, let socket):
      if socket.gate.isOpen {
        processPortFrames(count, port: port, now: now, tally: &tally)
      } else {
        // A gateway port outside its lease takes nothing in either (PortGate).
        tally.accepted += UInt64(count)
        tally.dropped += UInt64(count)
      }
    case .tunnel:
      var unknown: UInt64 = 0
      for index in 0..<count {
        tally.accepted += 1
        if let peers = tunnelPeers {
          guard let source = receiveBatch.sourceIPv4(index), peers.contains(source) else {
            unknown += 1
            tally.dropped += 1
            continue
          }
        }
        let payload = UnsafeRawBufferPointer(
          start: receiveBatch.buffer(index), count: receiveBatch.length(index))
        if !deliverTunnelled(payload) { tally.dropped += 1 }
      }
      if unknown > 0 { counters.unknownSource.add(unknown, ordering: .relaxed) }
    }
    queue.flush()
    if !newMisses.isEmpty {
      onMisses(newMisses)
      newMisses.removeAll(keepingCapacity: true)
    }
    counters.received.add(tally.accepted, ordering: .relaxed)
    counters.hits.add(tally.hits, ordering: .relaxed)
    counters.misses.add(tally.misses, ordering: .relaxed)
    counters.transmitted.add(queue.sent &- sentBefore, ordering: .relaxed)
    counters.dropped.add(tally.dropped &+ (queue.failed &- failedBefore), ordering: .relaxed)
  }

  /// Decapsulates a tunnel datagram and sends the inner frame to the key's port.
  private func deliverTunnelled(_ payload: UnsafeRawBufferPointer) -> Bool {
    guard let tunnelled = try? VXLANHeader.decapsulate(payload: payload) else { return false }
    if tunnelled.header.vni == DatapathSwitch.messageTunnelKey {
      onEvent(.tunnelMessage(Array(payload[tunnelled.innerRange])))
      return true
    }
    guard let port = tunnelPorts[tunnelled.header.vni], !tunnelled.innerRange.isEmpty
    else { return false }
    let inner = UnsafeRawBufferPointer(rebasing: payload[tunnelled.innerRange])
    let before = queue.failed
    queue.output(port: port, frame: inner, offload: VirtioNetHeader())
    return queue.failed == before
  }

  private func expire(now: UInt64) {
    let removed = table.expire(now: now)
    if !removed.isEmpty { onEvent(.flowsRemoved(removed)) }
    counters.flows.store(table.count, ordering: .relaxed)
    var stale = 0
    parked = parked.filter { _, miss in
      let keep = now - miss.since < PacketLoop.parkingTimeout
      if !keep { stale += miss.packets.count }
      return keep
    }
    if stale > 0 { counters.dropped.add(UInt64(stale), ordering: .relaxed) }
  }
}
