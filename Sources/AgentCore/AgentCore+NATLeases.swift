import Addresses
import Datapath
import Simulation
import Topology

/// Source-NAT port blocks leased cluster-wide (`NATBlock`, NSDB `NATLeases`).
///
/// With leasing on, the simulator picks source-NAT ports only from blocks this host
/// holds (`SimulationView.natLeases`). A simulation that finds none free ends in
/// `natExhausted`; the core then asks for a lease (one request at a time) and parks the
/// packet until it is answered: a new block resumes the parked packets, a refusal (every
/// block of the rule's targets held elsewhere) drops them and holds off new requests for
/// a second. Blocks are asked for ahead of need too, once an address's bindings fill
/// three quarters of its blocks: ports are found by probing from a hash, which stays
/// short only while a good share of them is free. A block no binding uses is given back
/// at the next flow-state sweep.
extension AgentCore {
  /// How long after a refused lease no new one is asked for.
  static let natLeaseBackoff: Duration = .seconds(1)

  /// Whether this host holds any source-NAT block (the flow-state sweep gives back the
  /// idle ones).
  public var holdsNATBlocks: Bool { !(view.natLeases?.isEmpty ?? true) }

  /// How many source-NAT blocks this host holds.
  public var leasedNATBlocks: Int { view.natLeases?.values.reduce(0) { $0 + $1.count } ?? 0 }

  /// Turns leasing on: from now on source NAT uses leased blocks only.
  public mutating func enableNATLeasing() {
    if view.natLeases == nil { view.natLeases = [:] }
  }

  /// Whether a `natExhausted` drop of `rule` should wait for a lease instead: leasing is
  /// on and the rule translates ports. Emits the request if none is under way.
  mutating func awaitNATLease(
    rule: ID, now: ContinuousClock.Instant, into out: inout [AgentDirective]
  )
    -> Bool
  {
    guard view.natLeases != nil, case .snat(let targets)? = snapshot.rules[rule]?.action else {
      return false
    }
    let ported = targets.filter { $0.isWellFormed && !($0.portFrom == 0 && $0.portTo == 0) }
    guard !ported.isEmpty else { return false }
    for target in ported where natTargets[target.addressFrom]?.contains(target) != true {
      natTargets[target.addressFrom, default: []].append(target)
    }
    return requestNATLease(ported, now: now, into: &out)
  }

  /// Asks for one more block of `targets` unless a request is under way or was just
  /// refused; returns whether packets should wait for it.
  @discardableResult
  mutating func requestNATLease(
    _ targets: [NatTarget], now: ContinuousClock.Instant, into out: inout [AgentDirective]
  ) -> Bool {
    if natLeaseInFlight { return true }
    if let until = natLeaseBackoffUntil, now < until { return false }
    natLeaseInFlight = true
    var held: [NATBlock] = []
    for (address, indices) in view.natLeases ?? [:] {
      held += indices.map { NATBlock(address: address, index: $0) }
    }
    out.append(.leaseNAT(targets: targets, held: held.sorted()))
    return true
  }

  /// The answer to a `.leaseNAT`: a block, or nil when none was free.
  public mutating func natLeased(_ block: NATBlock?, now: ContinuousClock.Instant)
    -> [AgentDirective]
  {
    natLeaseInFlight = false
    var out: [AgentDirective] = []
    let waiting = pending.filter { $0.reason == .natLease }
    pending.removeAll { $0.reason == .natLease }
    guard let block, view.natLeases != nil else {
      natLeaseBackoffUntil = now + Self.natLeaseBackoff
      for packet in waiting {
        out.append(.complete(packet.match, actions: []))
        out.append(.count(.drop("nat_exhausted")))
      }
      return out
    }
    hold(block)
    run(waiting, retry: true, now: now, into: &out)
    return out
  }

  /// The block of a source-NAT binding (nil for other bindings).
  static func natBlock(of binding: NATBinding) -> NATBlock? {
    guard binding.forwardKey.kind == .forwardSNAT else { return nil }
    return NATBlock(address: binding.forward.address, port: binding.forward.port)
  }

  /// A binding this host made: counts it against its block, and asks for another block
  /// when its address runs low.
  mutating func noteNATBinding(
    _ binding: NATBinding, now: ContinuousClock.Instant, into out: inout [AgentDirective]
  ) {
    guard let leases = view.natLeases, let block = countNATBinding(binding),
      let held = leases[block.address], held.contains(block.index)
    else { return }
    let capacity = held.count * Int(NATBlock.size)
    var used = 0
    for index in held { used += natBlockUse[NATBlock(address: block.address, index: index)] ?? 0 }
    if used * 4 >= capacity * 3, let targets = natTargets[block.address] {
      requestNATLease(targets, now: now, into: &out)
    }
  }

  /// A binding joined the flow-state table (made here, restored or received): one use
  /// more for its block. A held block is not given back while a peer's copy of one of
  /// its bindings lives here either: its owner may still be using it.
  @discardableResult
  mutating func countNATBinding(_ binding: NATBinding) -> NATBlock? {
    guard view.natLeases != nil, let block = Self.natBlock(of: binding) else { return nil }
    natBlockUse[block, default: 0] += 1
    return block
  }

  /// A binding left the flow-state table: one use less for its block.
  mutating func forgetNATBinding(_ binding: NATBinding) {
    guard view.natLeases != nil, let block = Self.natBlock(of: binding),
      let count = natBlockUse[block]
    else { return }
    if count > 1 {
      natBlockUse[block] = count - 1
    } else {
      natBlockUse[block] = nil
      natForeignBlocks[block] = nil
    }
  }

  // MARK: Bindings from blocks this host does not hold

  /// Bindings that became this host's own without being made here — restored from the
  /// log after a restart (the lease went with the old session), or handed over with a
  /// port that moved here (the lease is the old host's): their blocks must stay leased
  /// while they live, or another host could lease one and hand out the same ports. Each
  /// block is leased here if it is free; if another host holds it, that host is sent the
  /// bindings (and their refreshes) so it neither gives the block back nor reuses them.
  mutating func claimNATBlocks(of changes: [StateChange], into out: inout [AgentDirective]) {
    guard let leases = view.natLeases else { return }
    for case .natBinding(let binding) in changes {
      guard let block = Self.natBlock(of: binding),
        leases[block.address]?.contains(block.index) != true, natForeignBlocks[block] == nil
      else { continue }
      natForeignBlocks[block] = .some(nil)
    }
    adoptOrphanedNATBlocks(into: &out)
  }

  /// Asks for the foreign blocks no live host is known to hold.
  mutating func adoptOrphanedNATBlocks(into out: inout [AgentDirective]) {
    var wanted: [NATBlock] = []
    for (block, holder) in natForeignBlocks where !natAdopting.contains(block) {
      if let holder, aliveHosts.contains(holder) { continue }
      wanted.append(block)
    }
    guard !wanted.isEmpty else { return }
    natAdopting.formUnion(wanted)
    out.append(.adoptNAT(wanted.sorted()))
  }

  /// The answer to `.adoptNAT` for one block: who holds it now (this host if it took the
  /// lease; nil if the question failed, asked again at the next sweep).
  public mutating func natAdopted(_ block: NATBlock, holder: ID?) -> [AgentDirective] {
    natAdopting.remove(block)
    guard natForeignBlocks[block] != nil, view.natLeases != nil else {
      // Not wanted any more: a lease taken meanwhile goes back at the next sweep.
      if holder == hostID { hold(block) }
      return []
    }
    guard let holder else { return [] }
    if holder == hostID {
      natForeignBlocks[block] = nil
      hold(block)
      return []
    }
    natForeignBlocks[block] = holder
    guard let remote = endpoints[holder] else { return [] }
    var changes: [StateChange] = []
    for entry in flowState.entries.values where entry.origin == .local {
      if case .natBinding(let binding) = entry.change, Self.natBlock(of: binding) == block {
        changes.append(entry.change)
      }
    }
    var out: [AgentDirective] = []
    send(changes, to: holder, at: remote, into: &out)
    return out
  }

  /// A lease this host held was lost (a new session found the block taken): its
  /// bindings are foreign from now on.
  public mutating func natLost(_ block: NATBlock) -> [AgentDirective] {
    guard var indices = view.natLeases?[block.address] else { return [] }
    indices.removeAll { $0 == block.index }
    view.natLeases?[block.address] = indices.isEmpty ? nil : indices
    guard natBlockUse[block] != nil else { return [] }
    natForeignBlocks[block] = .some(nil)
    var out: [AgentDirective] = []
    adoptOrphanedNATBlocks(into: &out)
    return out
  }

  /// Marks `block` held here.
  mutating func hold(_ block: NATBlock) {
    var indices = view.natLeases?[block.address] ?? []
    guard !indices.contains(block.index) else { return }
    indices.append(block.index)
    indices.sort()
    view.natLeases?[block.address] = indices
  }

  /// The host a local binding's refreshes must also reach: the holder of its block when
  /// that is another host.
  func natBlockHolder(of change: StateChange) -> ID? {
    guard case .natBinding(let binding) = change, let block = Self.natBlock(of: binding),
      let holder = natForeignBlocks[block] ?? nil, holder != hostID
    else { return nil }
    return holder
  }

  /// The sweep's part: every held block no binding uses is given back, unless a lease
  /// request is under way (its packets may be about to use one).
  mutating func releaseIdleNATBlocks(into out: inout [AgentDirective]) {
    guard let leases = view.natLeases, !natLeaseInFlight else { return }
    for (address, indices) in leases {
      let idle = indices.filter { natBlockUse[NATBlock(address: address, index: $0)] == nil }
      guard !idle.isEmpty else { continue }
      let kept = indices.filter { !idle.contains($0) }
      view.natLeases?[address] = kept.isEmpty ? nil : kept
      for index in idle { out.append(.releaseNAT(NATBlock(address: address, index: index))) }
    }
  }
}
