import Addresses
import AgentCore
import Datapath
import Logging
import NSDB
import Packets
import Simulation
import Topology

extension Agent {
  /// A packet no flow matched: the core decides, the actor carries it out.
  func handleMiss(_ miss: DatapathMiss) {
    execute(core.miss(miss.match, frame: miss.frame, now: .now))
  }

  /// Simulates again, at once, the packets waiting for topology.
  func retryPendingTopology() {
    execute(core.retryPendingTopology(now: .now))
  }

  /// The periodic pass over parked packets (AgentCore.expirePending).
  func expirePending(_ now: ContinuousClock.Instant) {
    execute(core.expirePending(now: now))
  }

  /// Carries out the core's directives, in order. This is the only place the agent acts
  /// on a decision about packets, flows or learned state.
  func execute(_ directives: [AgentDirective]) {
    for directive in directives {
      switch directive {
      case .install(let entry):
        guard let datapath else { continue }
        do {
          try datapath.install(entry)
          metrics.flowsInstalled.add(1, ordering: .relaxed)
        } catch {
          datapath.completeMiss(entry.match, actions: entry.actions)
        }
      case .complete(let match, let actions):
        datapath?.completeMiss(match, actions: actions)
      case .send(let frame, let actions):
        datapath?.send(frame, actions: actions)
      case .invalidate(let tags):
        guard let datapath, !tags.isEmpty else { continue }
        for tag in tags { datapath.removeAll(taggedWith: tag) }
        metrics.invalidations.add(UInt64(tags.count), ordering: .relaxed)
      case .load(let ref):
        want(ref)
      case .writeMAC(let bridge, let mac, let port):
        let table = writableMACTable(bridge)
        writer?.enqueue("learn mac \(mac)") { try await table.add(mac, port) }
      case .forgetMAC(let bridge, let mac, let port):
        let table = writableMACTable(bridge)
        writer?.enqueue("forget mac \(mac)") { _ = try await table.remove(mac, port) }
      case .writeARP(let router, let ip, let mac):
        let table = writableARPTable(router)
        writer?.enqueue("learn arp \(ip)") { try await table.add(ip, mac) }
      case .replicate(let copy):
        sendFlowState(copy)
      case .leaseNAT(let targets, let held):
        leaseNATBlock(targets, held: held)
      case .releaseNAT(let block):
        guard let leases = natLeases else { continue }
        writer?.enqueue("release nat block \(block)") { try await leases.release(block) }
      case .adoptNAT(let blocks):
        adoptNATBlocks(blocks)
      case .count(let count):
        switch count {
        case .simulation: metrics.simulations.add(1, ordering: .relaxed)
        case .generatedPacket: metrics.generatedPackets.add(1, ordering: .relaxed)
        case .pendingDropped: metrics.pendingDropped.add(1, ordering: .relaxed)
        case .drop(let kind): metrics.countDrop(kind)
        case .flowStateExpired(let count):
          metrics.flowStateExpired.add(UInt64(count), ordering: .relaxed)
        case .flowStateRefreshed(let count):
          metrics.flowStateRefreshed.add(UInt64(count), ordering: .relaxed)
        }
      }
    }
  }

  /// Leases one more source-NAT block: the first free one of the targets' addresses (at
  /// most 64 addresses of a range are tried), in port order; answers with `.natLeased`.
  func leaseNATBlock(_ targets: [NatTarget], held: [NATBlock]) {
    let events = events
    guard let leases = natLeases else {
      events.yield(.natLeased(nil))
      return
    }
    let host = hostID
    let logger = logger
    let held = Set(held)
    Task {
      var leased: NATBlock?
      search: for target in targets {
        let first = target.addressFrom.rawValue
        let last = min(target.addressTo.rawValue, first &+ 63)
        for raw in first...max(first, last) {
          let address = IPv4Address(rawValue: raw)
          let indices = NATBlock.indices(covering: target.portFrom...target.portTo).filter {
            !held.contains(NATBlock(address: address, index: $0))
          }
          do {
            leased = try await leases.lease(host: host, address: address, indices: indices)
          } catch {
            logger.info("cannot lease a NAT port block", metadata: ["agent.error": "\(error)"])
            break search
          }
          if leased != nil { break search }
        }
      }
      if let leased {
        logger.info("leased a NAT port block", metadata: ["agent.block": "\(leased)"])
      } else {
        logger.info("no NAT port block free", metadata: ["agent.targets": "\(targets)"])
      }
      events.yield(.natLeased(leased))
    }
  }

  /// Leases each of `blocks` if it is free, or finds its holder; answers with
  /// `.natAdopted` for each.
  func adoptNATBlocks(_ blocks: [NATBlock]) {
    let events = events
    guard let leases = natLeases else {
      for block in blocks { events.yield(.natAdopted(block, holder: nil)) }
      return
    }
    let host = hostID
    let logger = logger
    Task {
      for block in blocks {
        var holder: ID?
        do {
          holder = try await leases.adopt(host: host, block: block)
          logger.info(
            "NAT port block of bindings not made here",
            metadata: [
              "agent.block": "\(block)", "agent.holder": "\(holder.map { "\($0)" } ?? "-")",
            ])
        } catch {
          logger.info(
            "cannot adopt a NAT port block",
            metadata: ["agent.block": "\(block)", "agent.error": "\(error)"])
        }
        events.yield(.natAdopted(block, holder: holder))
      }
    }
  }

  func writableMACTable(_ bridge: ID) -> MACTable {
    cached(&writableMACTables, bridge) {
      MACTable.macTable(client: client!, paths: store!.paths, bridge: bridge, logger: logger)
    }
  }

  func writableARPTable(_ router: ID) -> ARPTable {
    cached(&writableARPTables, router) {
      ARPTable.arpTable(client: client!, paths: store!.paths, router: router, logger: logger)
    }
  }

  /// The table this agent writes for `device`, made once and kept, so that what it learned
  /// is re-asserted after a session expiry.
  private func cached<Key, Value>(
    _ tables: inout [ID: TypedStateTable<Key, Value>], _ device: ID,
    _ make: () -> TypedStateTable<Key, Value>
  ) -> TypedStateTable<Key, Value> {
    if let table = tables[device] { return table }
    let table = make()
    table.reassertOnNewSession()
    tables[device] = table
    return table
  }
}
