import Logging
import Packets
import Synchronization

/// The datapath of one host, a software switch: local interfaces attached as numbered
/// ports, an optional UDP tunnel endpoint, and a flow table per packet loop (see
/// PacketLoop.swift and FlowTable.swift for the design). Named `DatapathSwitch`, not
/// `Datapath`, so it does not shadow its module (`Datapath.DatapathSwitch` stays
/// writable).
///
/// Thread safe; every method may be called from any thread or task. Flow operations are
/// posted to the packet loops and take effect within one batch (at most ~100 ms on an
/// idle interface).
public final class DatapathSwitch: Sendable {
  /// How the datapath is set up.
  public struct Configuration: Sendable {
    /// The local tunnel endpoint (address and UDP port; port 0 picks one); nil for no
    /// tunnels.
    public var tunnel: TunnelEndpoint?
    /// The flow-table size cap of each port loop.
    public var flowCapacity: Int
    /// Frames read per recvmmsg.
    public var batchSize: Int

    /// Creates a configuration.
    public init(tunnel: TunnelEndpoint? = nil, flowCapacity: Int = 1 << 18, batchSize: Int = 32) {
      self.tunnel = tunnel
      self.flowCapacity = flowCapacity
      self.batchSize = batchSize
    }
  }

  private struct State {
    var loops: [UInt32: (loop: PacketLoop, thread: LoopThread, socket: PacketSocket)] = [:]
    var tunnelKeys: [UInt32: UInt32] = [:]
    var stopped = false
  }

  private let configuration: Configuration
  private let logger: Logger
  private let onMisses: @Sendable ([DatapathMiss]) -> Void
  private let onEvent: @Sendable (DatapathEvent) -> Void
  private let state = Mutex(State())
  private let tunnelLoop: (loop: PacketLoop, thread: LoopThread)?
  /// The bound tunnel endpoint (with the actual port when 0 was asked for).
  public let tunnelEndpoint: TunnelEndpoint?

  /// Starts a datapath. `onMiss` and `onEvent` are called on packet threads and should
  /// return quickly. With `onMissBatch`, the new misses of each receive batch are handed
  /// over in one call instead (and `onMiss` is not called): a consumer that hops to
  /// another thread per call then pays that hop once per batch, not once per flow.
  public init(
    configuration: Configuration = Configuration(), logger: Logger,
    onMiss: @escaping @Sendable (DatapathMiss) -> Void,
    onMissBatch: (@Sendable ([DatapathMiss]) -> Void)? = nil,
    onEvent: @escaping @Sendable (DatapathEvent) -> Void = { _ in }
  ) throws(DatapathError) {
    self.configuration = configuration
    self.logger = logger
    let onMisses = onMissBatch ?? { misses in for miss in misses { onMiss(miss) } }
    self.onMisses = onMisses
    self.onEvent = onEvent
    if let endpoint = configuration.tunnel {
      let socket = try TunnelSocket(local: endpoint)
      let loop = try PacketLoop(
        source: .tunnel(socket), flowCapacity: 1, batchSize: configuration.batchSize,
        logger: logger, onMisses: onMisses, onEvent: onEvent, onDetached: { _ in })
      loop.queue.tunnel = socket
      tunnelEndpoint = socket.local
      tunnelLoop = (loop, try DatapathSwitch.start(loop, "the tunnel"))
      logger.info("tunnel listening", metadata: ["datapath.tunnel": "\(socket.local)"])
    } else {
      tunnelEndpoint = nil
      tunnelLoop = nil
    }
  }

  deinit {
    stop()
  }

  /// Attaches the local interface `interface` (a veth or tap, up) as port `port`. A
  /// port whose service is leased (a gateway port) is attached with `gate` closed and
  /// opened with `setGate` (PortGate).
  public func attach(
    interface: String, port: UInt32, gate: UInt64 = PortGate.always
  ) throws(DatapathError) {
    let socket = try PacketSocket(interface: interface)
    socket.gate.set(gate)
    let link: (up: Bool, running: Bool)
    do throws(SystemCallError) {
      link = try socket.linkState()
    } catch {
      throw DatapathError(.interfaceDown, "link state of \(interface)", cause: error)
    }
    guard link.up else {
      throw DatapathError(.interfaceDown, "interface \(interface) is not up")
    }
    let result: Result<Void, DatapathError> = state.withLock { state in
      guard !state.stopped else { return .failure(DatapathError(.stopped, "datapath stopped")) }
      guard state.loops[port] == nil else {
        return .failure(DatapathError(.portInUse, "port \(port) is already attached"))
      }
      do throws(DatapathError) {
        let loop = try PacketLoop(
          source: .port(port, socket), flowCapacity: configuration.flowCapacity,
          batchSize: configuration.batchSize, logger: logger, onMisses: onMisses,
          onEvent: onEvent, onDetached: { [weak self] port in self?.forget(port: port) })
        loop.queue.tunnel = tunnelSocket
        loop.queue.ports[port] = socket
        for (other, entry) in state.loops { loop.queue.ports[other] = entry.socket }
        // Started before the other loops learn of the port: a failure leaves no trace.
        let thread = try DatapathSwitch.start(loop, "port \(port)")
        for entry in state.loops.values { entry.loop.post(.addPort(port, socket)) }
        tunnelLoop?.loop.post(.addPort(port, socket))
        state.loops[port] = (loop, thread, socket)
        return .success(())
      } catch {
        return .failure(error)
      }
    }
    try result.get()
    logger.info(
      "interface attached",
      metadata: ["datapath.port": "\(port)", "datapath.interface": "\(interface)"])
    onEvent(.linkUp(port: port, interface: interface))
  }

  /// Lets port `port` carry frames until `deadline` (DatapathClock nanoseconds), or
  /// `PortGate.always` / `PortGate.closed`. Returns false when the port is not attached.
  @discardableResult
  public func setGate(port: UInt32, deadline: UInt64) -> Bool {
    state.withLock { state in
      guard let entry = state.loops[port] else { return false }
      entry.socket.gate.set(deadline)
      return true
    }
  }

  /// Port `port`'s gate deadline (nil when it is not attached).
  public func gate(port: UInt32) -> UInt64? {
    state.withLock { $0.loops[port]?.socket.gate.current }
  }

  /// Detaches port `port`; its flows go with it.
  public func detach(port: UInt32) {
    let entry = state.withLock { $0.loops[port] }
    guard let entry else { return }
    entry.loop.running.store(false, ordering: .relaxed)
    entry.loop.wake()
    entry.thread.join()
    forget(port: port)
    logger.info("interface detached", metadata: ["datapath.port": "\(port)"])
  }

  /// The attached ports.
  public var ports: [UInt32] {
    state.withLock { Array($0.loops.keys).sorted() }
  }

  /// Installs a flow in the loop of its ingress port. Parked packets of the flow are sent
  /// through its actions.
  public func install(_ entry: FlowEntry) throws(DatapathError) {
    guard let loop = loop(for: entry.match.ingressPort) else {
      throw DatapathError(.unknownPort, "port \(entry.match.ingressPort) is not attached")
    }
    loop.post(.install(entry))
  }

  /// Removes the flow for `match`, if any.
  public func remove(_ match: FlowMatch) {
    loop(for: match.ingressPort)?.post(.remove(match))
  }

  /// Removes every flow tagged `tag`, in every loop.
  public func removeAll(taggedWith tag: FlowTagHash) {
    for loop in allPortLoops() { loop.post(.removeTagged(tag)) }
  }

  /// Sends the packets parked for `match` through `actions` without installing a flow.
  public func completeMiss(_ match: FlowMatch, actions: [DatapathAction]) {
    loop(for: match.ingressPort)?.post(.completeMiss(match, actions))
  }

  /// Runs `actions` on `frame`, a packet the agent made itself (an ARP reply, an ICMP
  /// error, an ARP request the virtual topology sends): no flow is looked up or
  /// installed. Runs on the tunnel loop when there is one, else on any port loop.
  public func send(_ frame: [UInt8], actions: [DatapathAction]) {
    let loop = tunnelLoop?.loop ?? allPortLoops().first
    loop?.post(.execute(frame, actions))
  }

  /// The tunnel key (VNI) reserved for messages between agents (flow state); no port may
  /// use it. Such datagrams are reported as `.tunnelMessage`, never delivered to a port.
  public static let messageTunnelKey: UInt32 = 0xFF_FFFF

  /// Sends `bytes` to the agent at `remote` over the tunnel (key `messageTunnelKey`).
  /// At most ~65,000 bytes; best effort, like every datagram.
  ///
  /// With `before` a port, the message goes out from that port's loop, ahead of anything
  /// the loop sends after it — a flow's parked packets once the flow is installed — so the
  /// far agent learns the flow's state before it can see the flow's packets or replies.
  public func sendMessage(_ bytes: [UInt8], to remote: TunnelEndpoint, before port: UInt32? = nil) {
    let loop = port.flatMap { self.loop(for: $0) } ?? tunnelLoop?.loop
    loop?.post(.sendMessage(bytes, remote))
  }

  /// Maps tunnel key `key` to local port `port` (nil to unmap) for inbound tunnel traffic.
  public func setTunnelKey(_ key: UInt32, port: UInt32?) {
    state.withLock { $0.tunnelKeys[key] = port }
    tunnelLoop?.loop.post(.mapTunnelKey(key, port))
  }

  /// Takes tunnel datagrams only from `peers` (nil: from anyone); the others are dropped
  /// and counted (`PortCounters.Snapshot.unknownSource` of the tunnel loop).
  public func setTunnelPeers(_ peers: Set<TunnelEndpoint>?) {
    tunnelLoop?.loop.post(.setTunnelPeers(peers))
  }

  /// Every flow of every loop.
  public func dump() async -> [FlowSnapshot] {
    var result: [FlowSnapshot] = []
    for loop in allPortLoops() {
      result += await withCheckedContinuation { continuation in
        loop.post(.dump(continuation))
      }
    }
    return result
  }

  /// The counters of each port's loop (and of the tunnel loop under `tunnelPort`).
  public func counters() -> [UInt32: PortCounters.Snapshot] {
    var result: [UInt32: PortCounters.Snapshot] = [:]
    state.withLock { state in
      for (port, entry) in state.loops { result[port] = entry.loop.counters.snapshot }
    }
    if let tunnelLoop { result[DatapathSwitch.tunnelPort] = tunnelLoop.loop.counters.snapshot }
    return result
  }

  /// The key under which `counters()` reports the tunnel loop.
  public static let tunnelPort = UInt32.max

  /// Stops every loop and waits for their threads.
  public func stop() {
    let entries = state.withLock { state in
      state.stopped = true
      let entries = state.loops
      state.loops.removeAll()
      return entries
    }
    for (_, entry) in entries {
      entry.loop.running.store(false, ordering: .relaxed)
      entry.loop.wake()
    }
    for (_, entry) in entries { entry.thread.join() }
    if let tunnelLoop, tunnelLoop.loop.running.exchange(false, ordering: .relaxed) {
      tunnelLoop.loop.wake()
      tunnelLoop.thread.join()
    }
  }

  /// Runs `loop` on a thread of its own.
  private static func start(_ loop: PacketLoop, _ serving: String) throws(DatapathError)
    -> LoopThread
  {
    do throws(SystemCallError) {
      return try LoopThread { loop.run() }
    } catch {
      throw DatapathError(.resources, "thread for the loop of \(serving)", cause: error)
    }
  }

  private var tunnelSocket: TunnelSocket? {
    guard case .tunnel(let socket) = tunnelLoop?.loop.source else { return nil }
    return socket
  }

  private func loop(for port: UInt32) -> PacketLoop? {
    state.withLock { $0.loops[port]?.loop }
  }

  private func allPortLoops() -> [PacketLoop] {
    state.withLock { $0.loops.values.map(\.loop) }
  }

  /// Drops a port that ended (or was detached) from every other loop's transmit view.
  private func forget(port: UInt32) {
    let others = state.withLock { state in
      state.loops[port] = nil
      return state.loops.values.map(\.loop)
    }
    for loop in others { loop.post(.removePort(port)) }
    tunnelLoop?.loop.post(.removePort(port))
  }
}
