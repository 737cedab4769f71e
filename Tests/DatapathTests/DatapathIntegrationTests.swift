import Addresses
import Datapath
import Foundation
import Logging
import MidgeTestSupport
import Packets
import Synchronization
import Testing

/// Real packets between network namespaces the tests create (root only; see
/// NetworkFixture). Serialized: they share the host's network stack.
@Suite("Datapath between network namespaces", .serialized, .requires(Requirement.network))
struct DatapathIntegrationTests {
  private static let logger = Logger(label: "midge.datapath.test")

  /// A datapath bridging ports 1 and 2 by hand-installed flows, and two VMs.
  private func bridge(
    _ fixture: NetworkFixture, subnet: UInt8
  ) throws -> (DatapathSwitch, MissInstaller, NetworkFixture.VM, NetworkFixture.VM) {
    let installer = MissInstaller(tag: FlowTagHash(high: 1, low: 2)) { port in
      [.output(port: port == 1 ? 2 : 1)]
    }
    let a = try fixture.addVM(IPv4Address(10, 199, subnet, 1))
    let b = try fixture.addVM(IPv4Address(10, 199, subnet, 2))
    let datapath = try DatapathSwitch(logger: Self.logger, onMiss: { installer.handle($0) })
    installer.datapath.withLock { $0 = datapath }
    try datapath.attach(interface: a.rootInterface, port: 1)
    try datapath.attach(interface: b.rootInterface, port: 2)
    return (datapath, installer, a, b)
  }

  @Test("two namespaces ping through flows; removing the flows by tag makes the next packet a miss")
  func pingAndInvalidate() async throws {
    let fixture = NetworkFixture()
    defer { fixture.cleanUp() }
    let (datapath, installer, a, b) = try bridge(fixture, subnet: 1)
    defer { datapath.stop() }

    #expect(fixture.ping(from: a, to: b.address))
    let flows = await datapath.dump()
    #expect(flows.count >= 2)
    #expect(flows.allSatisfy { $0.entry.tags == [installer.tag] })
    let counters = datapath.counters()
    #expect((counters[1]?.hits ?? 0) > 0)

    installer.installing.store(false, ordering: .relaxed)
    datapath.removeAll(taggedWith: installer.tag)
    let missesBefore = installer.misses.load(ordering: .relaxed)
    // Wait (bounded) until the removal has been applied.
    for _ in 0..<50 where await !datapath.dump().isEmpty {
      try await Task.sleep(for: .milliseconds(20))
    }
    #expect(await datapath.dump().isEmpty)
    #expect(!fixture.ping(from: a, to: b.address, count: 1))
    #expect(installer.misses.load(ordering: .relaxed) > missesBefore)
  }

  @Test("UDP with checksum offload on crosses the datapath (partial checksums completed)")
  func udpWithOffload() throws {
    let fixture = NetworkFixture()
    defer { fixture.cleanUp() }
    let (datapath, _, a, b) = try bridge(fixture, subnet: 2)
    defer { datapath.stop() }

    let sender = try NamespacedUDPSocket(namespace: a.namespace, address: a.address, port: 0)
    let receiver = try NamespacedUDPSocket(namespace: b.namespace, address: b.address, port: 5_001)
    let capture = try NamespacedCapture(namespace: b.namespace)
    let payload = (0..<200).map { UInt8(truncatingIfNeeded: $0) }
    var received = 0
    for round in 0..<40 where received < 10 {
      sender.send(payload + [UInt8(round)], to: b.address, port: 5_001)
      while let datagram = receiver.receive() {
        #expect(datagram.prefix(200).elementsEqual(payload))
        received += 1
      }
    }
    #expect(received >= 10)
    // veth trusts checksums it is handed, so delivery alone proves little: check that
    // what reached B carries complete, valid UDP checksums although A's kernel left them
    // partial (TX checksum offload is on in the namespaces).
    let delivered = capture.drain().compactMap { frame -> Bool? in
      guard let packet = try? PacketParser.parse(frame), packet.udp?.destinationPort == 5_001
      else { return nil }
      return packet.isTransportChecksumValid(in: frame)
    }
    #expect(delivered.count >= 10)
    #expect(delivered.allSatisfy { $0 })
  }

  @Test("a tunnel between two datapaths on 127.0.0.1 carries a ping")
  func tunnelPing() throws {
    let fixture = NetworkFixture()
    defer { fixture.cleanUp() }
    let a = try fixture.addVM(IPv4Address(10, 199, 3, 1))
    let b = try fixture.addVM(IPv4Address(10, 199, 3, 2))
    let local = TunnelEndpoint(address: IPv4Address(127, 0, 0, 1), port: 0)
    let keyA: UInt32 = 1_001
    let keyB: UInt32 = 2_002
    let peerOfA = Mutex<TunnelEndpoint?>(nil)
    let peerOfB = Mutex<TunnelEndpoint?>(nil)
    let installerA = MissInstaller(tag: FlowTagHash(9)) { _ in
      [.encapsulate(tunnelKey: keyB, remote: peerOfA.withLock { $0! })]
    }
    let installerB = MissInstaller(tag: FlowTagHash(9)) { _ in
      [.encapsulate(tunnelKey: keyA, remote: peerOfB.withLock { $0! })]
    }
    let hostA = try DatapathSwitch(
      configuration: .init(tunnel: local), logger: Self.logger, onMiss: { installerA.handle($0) })
    defer { hostA.stop() }
    let hostB = try DatapathSwitch(
      configuration: .init(tunnel: local), logger: Self.logger, onMiss: { installerB.handle($0) })
    defer { hostB.stop() }
    peerOfA.withLock { $0 = hostB.tunnelEndpoint }
    peerOfB.withLock { $0 = hostA.tunnelEndpoint }
    installerA.datapath.withLock { $0 = hostA }
    installerB.datapath.withLock { $0 = hostB }
    try hostA.attach(interface: a.rootInterface, port: 1)
    try hostB.attach(interface: b.rootInterface, port: 1)
    hostA.setTunnelKey(keyA, port: 1)
    hostB.setTunnelKey(keyB, port: 1)

    #expect(fixture.ping(from: a, to: b.address))
    #expect((hostB.counters()[DatapathSwitch.tunnelPort]?.received ?? 0) > 0)
  }

  @Test("an interface that disappears is reported and detached, not fatal")
  func interfaceRemoved() async throws {
    let fixture = NetworkFixture()
    defer { fixture.cleanUp() }
    let (datapath, _, a, _) = try bridge(fixture, subnet: 4)
    defer { datapath.stop() }
    #expect(datapath.ports == [1, 2])
    shell(["ip", "link", "del", a.rootInterface])
    for _ in 0..<50 where datapath.ports.count == 2 { try await Task.sleep(for: .milliseconds(20)) }
    #expect(datapath.ports == [2])
  }

  @Test("an interface set down or deleted is reported as detached with its reason, not fatal")
  func interfaceDownReported() async throws {
    let fixture = NetworkFixture()
    defer { fixture.cleanUp() }
    let a = try fixture.addVM(IPv4Address(10, 199, 5, 1))
    let b = try fixture.addVM(IPv4Address(10, 199, 5, 2))
    let events = Mutex<[DatapathEvent]>([])
    let datapath = try DatapathSwitch(
      logger: Self.logger, onMiss: { _ in },
      onEvent: { event in events.withLock { $0.append(event) } })
    defer { datapath.stop() }
    try datapath.attach(interface: a.rootInterface, port: 1)
    try datapath.attach(interface: b.rootInterface, port: 2)
    func detachReason(_ port: UInt32) -> String? {
      events.withLock { events in
        for case .detached(let detached, _, let reason) in events where detached == port {
          return reason
        }
        return nil
      }
    }
    #expect(events.withLock { $0.contains { if case .linkUp(1, _) = $0 { true } else { false } } })
    shell(["ip", "link", "set", a.rootInterface, "down"])
    shell(["ip", "link", "del", b.rootInterface])
    for _ in 0..<100 where detachReason(1) == nil || detachReason(2) == nil {
      try await Task.sleep(for: .milliseconds(20))
    }
    #expect(detachReason(1) == "interface down")
    #expect(detachReason(2) != nil)
    #expect(datapath.ports.isEmpty)
    // Up again, it can be attached again.
    shell(["ip", "link", "set", a.rootInterface, "up"])
    try datapath.attach(interface: a.rootInterface, port: 1)
    #expect(datapath.ports == [1])
  }

  @Test(
    "later packets of a flow wait for its pending simulation: one miss, all delivered on install")
  func missesCoalesce() async throws {
    let fixture = NetworkFixture()
    defer { fixture.cleanUp() }
    let a = try fixture.addVM(IPv4Address(10, 199, 6, 1))
    let b = try fixture.addVM(IPv4Address(10, 199, 6, 2))
    let misses = Mutex<[DatapathMiss]>([])
    let datapath = try DatapathSwitch(
      logger: Self.logger, onMiss: { miss in misses.withLock { $0.append(miss) } })
    defer { datapath.stop() }
    try datapath.attach(interface: a.rootInterface, port: 1)
    try datapath.attach(interface: b.rootInterface, port: 2)
    // A static neighbour entry for B's real MAC: only the UDP flow crosses the datapath.
    let macB = shell(["ip", "netns", "exec", b.namespace, "cat", "/sys/class/net/eth0/address"])
      .output.trimmingCharacters(in: .whitespacesAndNewlines)
    shell([
      "ip", "netns", "exec", a.namespace, "ip", "neigh", "replace", "\(b.address)", "lladdr", macB,
      "dev", "eth0",
    ])
    let sender = try NamespacedUDPSocket(namespace: a.namespace, address: a.address, port: 4_000)
    let receiver = try NamespacedUDPSocket(namespace: b.namespace, address: b.address, port: 5_002)
    for round in 0..<5 { sender.send([UInt8(round)], to: b.address, port: 5_002) }
    for _ in 0..<50 where misses.withLock({ $0.isEmpty }) {
      try await Task.sleep(for: .milliseconds(10))
    }
    try await Task.sleep(for: .milliseconds(200))
    let udpMisses = misses.withLock { $0.filter { $0.match.transportDestination == 5_002 } }
    #expect(udpMisses.count == 1, "\(udpMisses.count) misses for one flow")
    #expect(receiver.receive() == nil, "nothing is delivered before the flow exists")
    let match = try #require(udpMisses.first?.match)
    try datapath.install(FlowEntry(match: match, actions: [.output(port: 2)]))
    var delivered: [UInt8] = []
    for _ in 0..<20 where delivered.count < 5 {
      if let datagram = receiver.receive() { delivered += datagram }
    }
    #expect(delivered == [0, 1, 2, 3, 4], "parked packets delivered in order once installed")
  }
}
