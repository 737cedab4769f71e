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
    var indices = view.natLeases?[block.address] ?? []
    if !indices.contains(block.index) {
      indices.append(block.index)
      indices.sort()
      view.natLeases?[block.address] = indices
    }
    run(waiting, retry: true, now: now, into: &out)
    return out
  }

  /// A binding this host made: counts it against its block, and asks for another block
  /// when its address runs low.
  mutating func noteNATBinding(
    _ binding: NATBinding, now: ContinuousClock.Instant, into out: inout [AgentDirective]
  ) {
    guard binding.forwardKey.kind == .forwardSNAT, let leases = view.natLeases else { return }
    let block = NATBlock(address: binding.forward.address, port: binding.forward.port)
    guard leases[block.address]?.contains(block.index) == true else { return }
    natBlockUse[block, default: 0] += 1
    let capacity = (leases[block.address]?.count ?? 0) * Int(NATBlock.size)
    var used = 0
    for (other, count) in natBlockUse where other.address == block.address { used += count }
    if used * 4 >= capacity * 3, let targets = natTargets[block.address] {
      requestNATLease(targets, now: now, into: &out)
    }
  }

  /// A binding expired: one use less for its block.
  mutating func forgetNATBinding(_ binding: NATBinding) {
    guard binding.forwardKey.kind == .forwardSNAT, view.natLeases != nil else { return }
    let block = NATBlock(address: binding.forward.address, port: binding.forward.port)
    guard let count = natBlockUse[block] else { return }
    natBlockUse[block] = count > 1 ? count - 1 : nil
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
