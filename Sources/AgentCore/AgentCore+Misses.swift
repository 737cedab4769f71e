import Datapath
import Packets
import Simulation
import Topology

extension AgentCore {
  /// A packet no flow matched, from datapath port `match.ingressPort`.
  public mutating func miss(_ match: FlowMatch, frame: [UInt8], now: ContinuousClock.Instant)
    -> [AgentDirective]
  {
    var out: [AgentDirective] = []
    // A miss makes a handful of directives (count, learned state, install): one
    // allocation for all of them.
    out.reserveCapacity(8)
    guard let ingress = portIDs[match.ingressPort] else {
      // A port detached while its packet was queued: nothing serves it any more.
      out.append(.complete(match, actions: []))
      return out
    }
    var packet = PendingPacket(
      match: match, frame: frame, ingress: ingress, since: now, reason: .notYet)
    if let until = awaitingHandOver[ingress] {
      if now < until {
        packet.reason = .handOver(ingress)
        pending.append(packet)
        return out
      }
      awaitingHandOver[ingress] = nil
    }
    var released: [DeviceIPKey] = []
    _ = process(packet, retry: false, now: now, released: &released, into: &out)
    for key in released {
      run(takePending(arp: key), retry: true, now: now, into: &out)
    }
    return out
  }

  /// Simulates `packets`, then every parked packet that an ARP entry learned on the way
  /// releases, from a work list (never by re-entering `process`). A first attempt that
  /// must wait is parked by `process`; a retried one is parked again here, as it was.
  mutating func run(
    _ packets: [PendingPacket], retry: Bool, now: ContinuousClock.Instant,
    into out: inout [AgentDirective]
  ) {
    var work = packets.map { (packet: $0, retry: retry) }
    var index = 0
    while index < work.count {
      let (packet, isRetry) = work[index]
      index += 1
      var released: [DeviceIPKey] = []
      if !process(packet, retry: isRetry, now: now, released: &released, into: &out), isRetry {
        pending.append(packet)
      }
      // Each released packet left `pending` first, and an entry is released only when it
      // changes, so the list ends.
      for key in released {
        work += takePending(arp: key).map { (packet: $0, retry: true) }
      }
    }
  }

  /// Simulates one packet and decides what happens to it. Returns false when it still
  /// waits (for an ARP answer or a device); a first attempt (`retry == false`) is parked
  /// here, a retried packet is parked again by the caller.
  mutating func process(
    _ packet: PendingPacket, retry: Bool, now: ContinuousClock.Instant,
    released: inout [DeviceIPKey], into out: inout [AgentDirective]
  ) -> Bool {
    let match = packet.match
    // The stored view itself, not a copy held across `record`: a copy alive when
    // `record` inserts would make the insert copy the whole table.
    _ = currentView()
    let result = simulator.simulate(
      SimulationPacket(frame: packet.frame, match: match), ingress: packet.ingress, view: view,
      now: elapsed(now))
    out.append(.count(.simulation))
    // A packet that waits keeps no conntrack or NAT state: it is made again, and sent to
    // the hosts its flow reaches, when the packet goes. Kept now, the later simulation
    // would find it already there and never send it on.
    let waits: Bool =
      switch result.verdict {
      case .awaitingARP, .notYet: true
      case .forward, .drop, .consumed: false
      }
    record(
      result.stateChanges, flowState: !waits, now: now, released: &released, into: &out)
    if !waits { replicate(result, ingress: packet.ingress, port: match.ingressPort, into: &out) }
    flowState.used(result.tags, tcpFlags: match.tcpFlags, now: now) {
      [packet.ingress] + result.outputPorts
    }
    deliver(result.generatedPackets, depth: 0, retry: false, now: now, into: &out)
    // What a flow uses shows in its tags at the next topology sweep; what a simulation
    // without a flow used is noted here.
    if !result.installsFlow { usedTagsSinceSweep.formUnion(FlowTagHasher.hash(result.tags)) }
    switch result.verdict {
    case .forward, .drop:
      var actions: [DatapathAction]
      var hardTimeout: Duration?
      if case .drop(let reason) = result.verdict {
        if case .natExhausted(_, let rule) = reason, awaitNATLease(rule: rule, now: now, into: &out)
        {
          if !retry {
            var parked = packet
            parked.since = now
            parked.reason = .natLease
            pending.append(parked)
          }
          return false
        }
        actions = [.drop(reason: "\(reason)")]
        out.append(.count(.drop(reason.kind)))
        // Ports may free up (a binding expires, a block is leased): look again soon.
        if case .natExhausted = reason { hardTimeout = settings.unexecutableFlowTimeout }
      } else {
        switch translator().translate(result.actions) {
        case .success(let translated): actions = translated
        case .failure(let failure):
          out.append(.count(.drop("cannot_execute")))
          // Simulated again when the port changes, and at the latest after a second.
          actions = [.drop(reason: failure.description)]
          hardTimeout = settings.unexecutableFlowTimeout
        }
      }
      if result.installsFlow {
        out.append(
          .install(
            FlowEntry(
              match: match, actions: actions, tags: FlowTagHasher.hash(result.tags),
              idleTimeout: settings.flowIdleTimeout, hardTimeout: hardTimeout)))
      } else {
        out.append(.complete(match, actions: actions))
      }
      return true
    case .consumed:
      out.append(.complete(match, actions: []))
      return true
    case .awaitingARP(let router, let ip):
      if !retry {
        var parked = packet
        parked.since = now
        parked.reason = .arp(DeviceIPKey(device: router, ip: ip))
        pending.append(parked)
      }
      return false
    case .notYet(let refs):
      for ref in refs { out.append(.load(ref)) }
      if !retry {
        var parked = packet
        parked.since = now
        parked.reason = .notYet
        pending.append(parked)
      }
      return false
    }
  }

  /// Removes and returns the packets that wait for `key`'s ARP entry.
  mutating func takePending(arp key: DeviceIPKey) -> [PendingPacket] {
    let waiting = pending.filter { $0.reason == .arp(key) }
    guard !waiting.isEmpty else { return [] }
    pending.removeAll { $0.reason == .arp(key) }
    return waiting
  }

  /// Sends the packets a simulation generated. An interior egress port hands the packet
  /// to its peer's device, which is simulated in turn (bounded depth). A packet whose
  /// path needs objects not loaded yet (the peer bridge of a router's ARP request, on a
  /// host with no port on that bridge) has them loaded and waits until they arrive
  /// (`retryPendingTopology`).
  mutating func deliver(
    _ generated: [GeneratedPacket], depth: Int, retry: Bool, now: ContinuousClock.Instant,
    into out: inout [AgentDirective]
  ) {
    for packet in generated {
      guard let port = snapshot.ports[packet.egressPort] else { continue }
      if !retry { out.append(.count(.generatedPacket)) }
      if port.peerId != nil {
        guard depth < settings.generatedDepthLimit else { continue }
        let result = simulator.simulateGenerated(packet, view: currentView(), now: elapsed(now))
        out.append(.count(.simulation))
        var released: [DeviceIPKey] = []
        record(result.stateChanges, now: now, released: &released, into: &out)
        switch result.verdict {
        case .forward:
          if case .success(let actions) = translator().translate(result.actions) {
            out.append(.send(packet.frame, actions: actions))
          }
        case .notYet(let refs):
          for ref in refs { out.append(.load(ref)) }
          if pendingGenerated.count < settings.pendingGeneratedLimit {
            pendingGenerated.append(PendingGenerated(packet: packet, depth: depth, since: now))
          }
        case .drop, .consumed, .awaitingARP:
          break
        }
        deliver(result.generatedPackets, depth: depth + 1, retry: false, now: now, into: &out)
        for key in released {
          run(takePending(arp: key), retry: true, now: now, into: &out)
        }
      } else if let number = localPorts[port.id] {
        out.append(.send(packet.frame, actions: [.output(port: number)]))
      } else if let active = view.activePorts[port.id], let remote = endpoints[active.host] {
        out.append(
          .send(packet.frame, actions: [.encapsulate(tunnelKey: active.tunnelKey, remote: remote)]))
      }
    }
  }

  /// Simulates again, at once, the packets that wait for topology (objects arrived), and
  /// sends again the generated packets that did.
  public mutating func retryPendingTopology(now: ContinuousClock.Instant) -> [AgentDirective] {
    var out: [AgentDirective] = []
    retryPendingGenerated(now: now, into: &out)
    let waiting = pending.filter { $0.reason == .notYet }
    guard !waiting.isEmpty else { return out }
    pending.removeAll { $0.reason == .notYet }
    run(waiting, retry: true, now: now, into: &out)
    return out
  }

  mutating func retryPendingGenerated(
    now: ContinuousClock.Instant, into out: inout [AgentDirective]
  ) {
    guard !pendingGenerated.isEmpty else { return }
    let waiting = pendingGenerated
    pendingGenerated = []
    for parked in waiting where now - parked.since <= settings.pendingTimeout {
      deliver([parked.packet], depth: parked.depth, retry: true, now: now, into: &out)
    }
  }

  /// The periodic pass over parked packets: drops those that waited longer than
  /// `pendingTimeout`; simulates again those waiting for topology if it changed since the
  /// last pass, and those waiting for ARP once, after `arpRetryAfter` (which sends the
  /// request again).
  public mutating func expirePending(now: ContinuousClock.Instant) -> [AgentDirective] {
    var out: [AgentDirective] = []
    pendingGenerated.removeAll { now - $0.since > settings.pendingTimeout }
    guard !pending.isEmpty else { return out }
    let retryTopology = topologyChangedSincePendingRetry
    topologyChangedSincePendingRetry = false
    let waiting = pending
    pending = []
    var again: [PendingPacket] = []
    var keep: [PendingPacket] = []
    for var packet in waiting {
      if now - packet.since > settings.pendingTimeout {
        out.append(.complete(packet.match, actions: []))
        out.append(.count(.pendingDropped))
        continue
      }
      let retry: Bool
      switch packet.reason {
      case .notYet: retry = retryTopology
      case .arp: retry = !packet.retried && now - packet.since > settings.arpRetryAfter
      case .natLease: retry = false  // resumed by the lease's answer
      case .handOver(let port):
        // Resumed by the hand-over, or here once it is late.
        if let until = awaitingHandOver[port], now < until {
          retry = false
        } else {
          awaitingHandOver[port] = nil
          retry = true
        }
      }
      if retry {
        packet.retried = true
        again.append(packet)
      } else {
        keep.append(packet)
      }
    }
    pending = keep
    run(again, retry: true, now: now, into: &out)
    return out
  }
}
