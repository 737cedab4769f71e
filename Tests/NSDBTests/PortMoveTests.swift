import Addresses
import MidgeTestSupport
import Testing
import Topology
import ZooKeeper

@testable import NSDB

/// A port's binding moving to another host through `apply` (what a VM's live migration
/// asks of the NSDB): the port's `hostId`, the old host's `portIds` and the new host's,
/// changed together in the apply's one multi.
@Suite("apply moves a port's binding between hosts")
struct PortMoveTests {
  let hostA = ID.named("move-host-a")
  let hostB = ID.named("move-host-b")
  let nowhere = ID.named("move-host-nowhere")
  let bridge = ID.named("move-bridge")
  let vm = ID.named("move-vm")
  let stays = ID.named("move-stays")

  /// Hosts a and b (`hosts`), a bridge with port `vm` bound to `host` (nil: unbound) and
  /// port `stays` bound to a; every host lists the ports bound to it.
  func topology(vmOn host: ID?, hosts: [ID: String]? = nil) -> TopologySnapshot {
    var snapshot = TopologySnapshot()
    snapshot.insert(Bridge(id: bridge, name: "br", portIds: [vm, stays]))
    snapshot.insert(
      Port(
        id: vm, device: .bridge(bridge), tunnelKey: 1, hostId: host,
        interfaceName: host == nil ? nil : "tap-vm", name: "vm"))
    snapshot.insert(
      Port(
        id: stays, device: .bridge(bridge), tunnelKey: 2, hostId: hostA,
        interfaceName: "tap-stays", name: "stays"))
    for (id, name) in hosts ?? [hostA: "a", hostB: "b"] {
      let bound = snapshot.ports.values.filter { $0.hostId == id }.map(\.id).sorted()
      snapshot.insert(Host(id: id, name: name, portIds: bound))
    }
    return snapshot
  }

  /// Every stored object, for `validate()`.
  func stored(_ store: NSDBStore) async throws -> TopologySnapshot {
    var snapshot = TopologySnapshot()
    for host in try await store.getAll(Host.self) { snapshot.insert(host) }
    for zone in try await store.getAll(TunnelZone.self) { snapshot.insert(zone) }
    for bridge in try await store.getAll(Bridge.self) { snapshot.insert(bridge) }
    for router in try await store.getAll(Router.self) { snapshot.insert(router) }
    for port in try await store.getAll(Port.self) { snapshot.insert(port) }
    for route in try await store.getAll(Route.self) { snapshot.insert(route) }
    for chain in try await store.getAll(Chain.self) { snapshot.insert(chain) }
    for rule in try await store.getAll(Rule.self) { snapshot.insert(rule) }
    for group in try await store.getAll(PortGroup.self) { snapshot.insert(group) }
    return snapshot
  }

  /// The zxid of the last write to each object (ZooKeeper gives every write of one multi
  /// the same zxid).
  func zxids(_ store: NSDBStore, _ objects: [(ModelType, ID)]) async throws -> [ID: Int64] {
    var result: [ID: Int64] = [:]
    for (type, id) in objects {
      result[id] = try await store.client.get(store.paths.object(type, id)).stat.mzxid
    }
    return result
  }

  var everything: [(ModelType, ID)] {
    [(.host, hostA), (.host, hostB), (.bridge, bridge), (.port, vm), (.port, stays)]
  }

  @Test(
    "a port bound to host a moves to host b and back: one multi writes its hostId and both hosts' lists, and nothing else",
    arguments: [false, true])
  func moves(prune: Bool) async throws {
    let f = try await NSDBFixture.make("port-move-\(prune)")
    let store = f.store
    try await store.apply(topology(vmOn: hostA), prune: prune)
    #expect(try await store.get(Host.self, hostA).portIds == [vm, stays].sorted())
    let before = try await zxids(store, everything)

    let moved = topology(vmOn: hostB)
    let plan = try await store.plan(moved, prune: prune)
    #expect(Set(plan.updates.map(\.id)) == [vm, hostA, hostB], "\(plan)")
    #expect(plan.creates.isEmpty && plan.deletes.isEmpty, "\(plan)")
    #expect(plan.updates.first { $0.id == vm }?.detail == "host a -> b", "\(plan)")
    #expect(plan.description.contains("~ Port vm: host a -> b"), "\(plan)")
    #expect(plan.description.contains("~ Host a\n"), "\(plan)")

    let applied = try await store.apply(moved, prune: prune)
    #expect(applied.description == plan.description, "apply did not do what plan said")
    let port = try await store.get(Port.self, vm)
    #expect(port.hostId == hostB && port.interfaceName == "tap-vm")
    #expect(try await store.get(Host.self, hostA).portIds == [stays])
    #expect(try await store.get(Host.self, hostB).portIds == [vm])
    #expect(try await store.get(Port.self, stays).hostId == hostA)
    let problems = try await stored(store).validate()
    #expect(problems.isEmpty, "\(problems)")

    // One multi: the three objects it changed carry its zxid; the rest was not written.
    let after = try await zxids(store, everything)
    let written = Set([vm, hostA, hostB].compactMap { after[$0] })
    #expect(written.count == 1, "the move was written by \(written.count) transactions")
    #expect(written.allSatisfy { $0 > before.values.max()! })
    #expect(after[bridge] == before[bridge] && after[stays] == before[stays])
    #expect(try await store.plan(moved, prune: prune).isEmpty, "re-applying would change more")

    // And back: a just like before.
    let back = try await store.apply(topology(vmOn: hostA), prune: prune)
    #expect(back.description.contains("~ Port vm: host b -> a"), "\(back)")
    #expect(try await store.get(Host.self, hostA).portIds == [vm, stays].sorted())
    #expect(try await store.get(Host.self, hostB).portIds.isEmpty)
    #expect(try await store.get(Port.self, vm).hostId == hostA)
    #expect(try await stored(store).validate().isEmpty)
    await f.close()
  }

  @Test("a port is unbound and bound again by apply; the plan says so")
  func bindUnbind() async throws {
    let f = try await NSDBFixture.make("port-unbind")
    let store = f.store
    try await store.apply(topology(vmOn: hostA), prune: false)
    let unbound = try await store.apply(topology(vmOn: nil), prune: false)
    #expect(unbound.description.contains("~ Port vm: host a -> none"), "\(unbound)")
    #expect(try await store.get(Port.self, vm).hostId == nil)
    #expect(try await store.get(Host.self, hostA).portIds == [stays])
    let bound = try await store.apply(topology(vmOn: hostB), prune: false)
    #expect(bound.description.contains("~ Port vm: host none -> b"), "\(bound)")
    #expect(try await store.get(Host.self, hostB).portIds == [vm])
    #expect(try await stored(store).validate().isEmpty)
    await f.close()
  }

  @Test("a move to a host that does not exist fails as a dangling reference and writes nothing")
  func missingHost() async throws {
    let f = try await NSDBFixture.make("port-move-missing")
    let store = f.store
    try await store.apply(topology(vmOn: hostA), prune: false)
    let before = try await zxids(store, everything)
    for prune in [false, true] {
      do {
        try await store.apply(topology(vmOn: nowhere), prune: prune)
        Issue.record("a port was bound to a host that does not exist")
      } catch let error as NSDBError {
        #expect(error.code == .danglingReference, "\(error)")
        #expect(
          error.message.contains("\(nowhere)") && error.message.contains("does not exist"),
          "\(error)")
      }
    }
    #expect(try await zxids(store, everything) == before, "the refused apply wrote")
    #expect(try await store.get(Port.self, vm).hostId == hostA)
    #expect(try await store.get(Host.self, hostA).portIds == [vm, stays].sorted())
    #expect(try await !store.exists(Host.self, nowhere))
    await f.close()
  }

  @Test(
    "the old host need not be in the topology any more (an agent registered it): it loses the port")
  func oldHostNotNamed() async throws {
    let f = try await NSDBFixture.make("port-move-foreign")
    let store = f.store
    try await store.apply(topology(vmOn: hostB), prune: false)
    // The next topology names host a only; b stays (no prune) but no longer serves vm.
    let plan = try await store.apply(topology(vmOn: hostA, hosts: [hostA: "a"]), prune: false)
    #expect(plan.description.contains("~ Port vm: host b -> a"), "\(plan)")
    #expect(try await store.get(Host.self, hostB).portIds.isEmpty)
    #expect(try await store.get(Host.self, hostA).portIds == [vm, stays].sorted())
    #expect(try await store.get(Port.self, vm).hostId == hostA)
    #expect(try await stored(store).validate().isEmpty)
    await f.close()
  }

  @Test(
    "moving a plain binding leaves a gateway port's candidates alone; candidates change, and a gateway port becomes a plain one"
  )
  func candidatesUntouched() async throws {
    let f = try await NSDBFixture.make("port-move-candidates")
    let store = f.store
    let hostC = ID.named("move-host-c")
    let uplink = ID.named("move-uplink")
    func withUplink(vmOn host: ID, candidates: [ID], bound: ID? = nil) -> TopologySnapshot {
      var snapshot = topology(vmOn: host, hosts: [hostA: "a", hostB: "b", hostC: "c"])
      var port = Port(
        id: uplink, device: .bridge(bridge), tunnelKey: 3, hostId: bound,
        interfaceName: bound == nil ? nil : "eth9", name: "uplink")
      port.candidates = candidates.enumerated().map {
        PortCandidate(hostId: $0.element, interfaceName: "eth1", priority: Int32(10 - $0.offset))
      }
      snapshot.insert(port)
      snapshot.bridges[bridge]?.portIds.append(uplink)
      for id in candidates { snapshot.hosts[id]?.candidatePortIds = [uplink] }
      if let bound, var host = snapshot.hosts[bound] {
        host.portIds = (host.portIds + [uplink]).sorted()
        snapshot.hosts[bound] = host
      }
      return snapshot
    }
    try await store.apply(withUplink(vmOn: hostA, candidates: [hostA, hostB]), prune: false)
    let candidates = try await store.get(Port.self, uplink).candidates

    // vm moves from a to b, both of them candidates of the uplink: the candidates stay.
    try await store.apply(withUplink(vmOn: hostB, candidates: [hostA, hostB]), prune: false)
    #expect(try await store.get(Port.self, uplink).candidates == candidates)
    #expect(try await store.get(Host.self, hostA).candidatePortIds == [uplink])
    #expect(try await store.get(Host.self, hostB).candidatePortIds == [uplink])
    #expect(try await store.get(Host.self, hostA).portIds == [stays])
    #expect(try await store.get(Host.self, hostB).portIds == [vm])
    #expect(try await stored(store).validate().isEmpty)

    // The uplink's candidates change (a to c): the hosts' lists follow.
    try await store.apply(withUplink(vmOn: hostB, candidates: [hostC, hostB]), prune: false)
    #expect(try await store.get(Port.self, uplink).candidates.map(\.hostId) == [hostC, hostB])
    #expect(try await store.get(Host.self, hostA).candidatePortIds.isEmpty)
    #expect(try await store.get(Host.self, hostC).candidatePortIds == [uplink])
    #expect(try await stored(store).validate().isEmpty)

    // The uplink becomes a plain port bound to c: no candidates left anywhere.
    try await store.apply(withUplink(vmOn: hostB, candidates: [], bound: hostC), prune: false)
    let plain = try await store.get(Port.self, uplink)
    #expect(plain.candidates.isEmpty && plain.hostId == hostC)
    for host in [hostA, hostB, hostC] {
      #expect(try await store.get(Host.self, host).candidatePortIds.isEmpty)
    }
    #expect(try await store.get(Host.self, hostC).portIds == [uplink])
    #expect(try await stored(store).validate().isEmpty)
    await f.close()
  }

  @Test("other references that move between holders: a route's next-hop port, a port's peer")
  func otherMoves() async throws {
    let f = try await NSDBFixture.make("port-move-other")
    let store = f.store
    let router = ID.named("move-router")
    let (r1, r2) = (ID.named("move-r1"), ID.named("move-r2"))
    let (b1, b2) = (ID.named("move-b1"), ID.named("move-b2"))
    let route = ID.named("move-route")
    func snapshot(via: ID, links: [(ID, ID)]) -> TopologySnapshot {
      var snapshot = TopologySnapshot()
      let prefix = { (n: UInt32) in
        IPv4Prefix(IPv4Address(rawValue: 0x0A00_0001 + n << 8), length: 24)
      }
      snapshot.insert(Router(id: router, name: "r", portIds: [r1, r2], routeIds: [route]))
      snapshot.insert(Bridge(id: bridge, name: "br", portIds: [b1, b2]))
      for (index, id) in [r1, r2].enumerated() {
        let subnet = prefix(UInt32(index))
        snapshot.insert(
          Port(
            id: id, device: .router(router), tunnelKey: UInt32(index + 1),
            routeIds: id == via ? [route] : [], portAddress: subnet.address,
            portSubnet: subnet.canonical, portMAC: MACAddress(rawValue: UInt64(index + 1)),
            name: "r\(index + 1)"))
      }
      for (index, id) in [b1, b2].enumerated() {
        snapshot.insert(
          Port(id: id, device: .bridge(bridge), tunnelKey: UInt32(index + 3), name: "b\(index + 1)")
        )
      }
      for (left, right) in links {
        snapshot.ports[left]?.peerId = right
        snapshot.ports[right]?.peerId = left
      }
      snapshot.insert(
        Route(
          id: route, routerId: router,
          dstPrefix: IPv4Prefix(IPv4Address(rawValue: 0xC0A8_0000), length: 16), nextHop: .port,
          nextHopPortId: via))
      return snapshot
    }
    try await store.apply(snapshot(via: r1, links: [(r1, b1), (r2, b2)]), prune: false)
    try await store.apply(snapshot(via: r2, links: [(r1, b2), (r2, b1)]), prune: false)
    #expect(try await store.get(Route.self, route).nextHopPortId == r2)
    #expect(try await store.get(Port.self, r1).routeIds.isEmpty)
    #expect(try await store.get(Port.self, r2).routeIds == [route])
    #expect(try await store.get(Port.self, r1).peerId == b2)
    #expect(try await store.get(Port.self, b1).peerId == r2)
    #expect(try await stored(store).validate().isEmpty)
    await f.close()
  }

  @Test(
    "after a move the new host's activation waits for the old host to let go of the port (or die), then takes it; a host the port is not bound to is still refused at once"
  )
  func activationHandover() async throws {
    let f = try await NSDBFixture.make("port-move-active")
    let store = f.store
    try await store.apply(topology(vmOn: hostA), prune: false)
    let a = try await f.server.client(sessionTimeout: .seconds(4), label: "active-a")
    let b = try await f.server.client(sessionTimeout: .seconds(4), label: "active-b")
    let stateA = PortState(client: a, paths: store.paths, logger: ZooKeeperServer.logger("a"))
    let stateB = PortState(client: b, paths: store.paths, logger: ZooKeeperServer.logger("b"))
    try await stateA.activate(port: vm, host: hostA, tunnelKey: 1)

    // vm is bound to a: b cannot take it, and is told so at once.
    let began = ContinuousClock.now
    await #expect(throws: NSDBError.self) {
      try await stateB.activate(port: vm, host: hostB, tunnelKey: 1)
    }
    #expect(ContinuousClock.now - began < .seconds(2), "b waited for a port not bound to it")

    // vm moves to b: b (quicker than a to react) waits; a detaches; b has it.
    try await store.apply(topology(vmOn: hostB), prune: false)
    let taking = Task { try await stateB.activate(port: vm, host: hostB, tunnelKey: 1) }
    try await Task.sleep(for: .milliseconds(500))
    #expect(try await stateA.activeState(vm)?.host == hostA, "b took the port from a")
    try await stateA.deactivate(port: vm)
    try await taking.value
    #expect(try await stateA.activeState(vm) == PortActivation(host: hostB, tunnelKey: 1))

    // vm moves back to a, and b dies instead of letting go: a has it once b's session ends.
    try await store.apply(topology(vmOn: hostA), prune: false)
    let retaking = Task { try await stateA.activate(port: vm, host: hostA, tunnelKey: 1) }
    try await Task.sleep(for: .milliseconds(300))
    await b.close()
    try await retaking.value
    #expect(try await stateA.activeState(vm) == PortActivation(host: hostA, tunnelKey: 1))
    await a.close()
    await f.close()
  }

  /// Port `vm`, host a and host b read at one moment: each read twice in a row, and kept
  /// only if no version changed in between (then all three held these values at once).
  func consistentRead(_ client: ZooKeeperClient, _ store: NSDBStore) async throws -> (
    Port, Host, Host
  )? {
    let paths = [
      store.paths.object(.port, vm), store.paths.object(.host, hostA),
      store.paths.object(.host, hostB),
    ]
    var first: [NodeData] = []
    for path in paths { first.append(try await client.get(path)) }
    for (path, node) in zip(paths, first) {
      guard try await client.get(path).stat.version == node.stat.version else { return nil }
    }
    return (
      try ModelCodec.decode(Port.self, first[0].data),
      try ModelCodec.decode(Host.self, first[1].data),
      try ModelCodec.decode(Host.self, first[2].data)
    )
  }

  @Test(
    "a reader during 40 moves never sees the port on both hosts, on neither, or on a host that does not list it"
  )
  func readerDuringMoves() async throws {
    let f = try await NSDBFixture.make("port-move-reader")
    let store = f.store
    try await store.apply(topology(vmOn: hostA), prune: false)
    let client = try await f.server.client(label: "port-move-reader")
    let reader = Task {
      var violations: [String] = []
      var seen: [ID: Int] = [:]
      while !Task.isCancelled {
        guard let (port, a, b) = try? await consistentRead(client, store) else { continue }
        let listing = [a, b].filter { $0.portIds.contains(vm) }.map(\.id)
        if listing.count != 1 || listing.first != port.hostId {
          violations.append(
            "port on \(port.hostId.map { "\($0)" } ?? "no host"), listed by \(listing)")
        }
        if let host = port.hostId { seen[host, default: 0] += 1 }
      }
      return (violations, seen)
    }
    for round in 0..<40 {
      try await store.apply(topology(vmOn: round % 2 == 0 ? hostB : hostA), prune: false)
      try await Task.sleep(for: .milliseconds(5))
    }
    reader.cancel()
    let (violations, seen) = await reader.value
    #expect(violations.count == 0, "torn: \(violations.prefix(3))")
    // The reader ran through the moves: it saw the port on both hosts.
    #expect(seen[hostA, default: 0] > 0 && seen[hostB, default: 0] > 0, "\(seen)")
    #expect(try await store.get(Port.self, vm).hostId == hostA)
    await client.close()
    await f.close()
  }
}
