import Addresses
import Datapath
import Foundation
import Logging
import MidgeTestSupport
import Packets
import Testing

/// A leased port's gate (PortGate), with real packets between namespaces: closed or past
/// its deadline, the port neither sends nor takes frames; open until a future deadline,
/// it carries them, and stops by itself when the deadline passes.
@Suite(
  "Port gate: a leased port carries frames only until its deadline", .serialized,
  .requires(Requirement.network))
struct PortGateTests {
  private static let logger = Logger(label: "midge.datapath.gate.test")

  @Test(
    "closed: pings fail; open until a deadline: they pass; the deadline passes: they fail again")
  func gateFollowsDeadline() async throws {
    let fixture = NetworkFixture()
    defer { fixture.cleanUp() }
    let installer = MissInstaller(tag: FlowTagHash(high: 3, low: 4)) { port in
      [.output(port: port == 1 ? 2 : 1)]
    }
    let a = try fixture.addVM(IPv4Address(10, 199, 9, 1))
    let b = try fixture.addVM(IPv4Address(10, 199, 9, 2))
    let datapath = try DatapathSwitch(logger: Self.logger, onMiss: { installer.handle($0) })
    defer { datapath.stop() }
    installer.datapath.withLock { $0 = datapath }
    try datapath.attach(interface: a.rootInterface, port: 1)
    // Port 2 is the leased one: attached with its gate closed.
    try datapath.attach(interface: b.rootInterface, port: 2, gate: PortGate.closed)
    #expect(datapath.gate(port: 2) == PortGate.closed)
    #expect(datapath.gate(port: 1) == PortGate.always)

    #expect(!fixture.ping(from: a, to: b.address, count: 2))
    // The failed ARP resolutions would keep a's kernel from asking again at once.
    for vm in [a, b] { _ = shell(["ip", "-n", vm.namespace, "neigh", "flush", "all"]) }

    // Open for 3 s: traffic passes.
    let lease: UInt64 = 3_000_000_000
    #expect(datapath.setGate(port: 2, deadline: DatapathClock.now() + lease))
    #expect(fixture.ping(from: a, to: b.address, count: 2))

    // A lease of 1 s that nobody renews: traffic passes, then stops by itself.
    #expect(datapath.setGate(port: 2, deadline: DatapathClock.now() + 1_000_000_000))
    #expect(fixture.ping(from: a, to: b.address, count: 1))
    try await Task.sleep(for: .milliseconds(1200))
    #expect(!fixture.ping(from: a, to: b.address, count: 2))
    let dropped = datapath.counters()[2]?.dropped ?? 0
    #expect(dropped > 0)

    // An unknown port has no gate.
    #expect(!datapath.setGate(port: 99, deadline: PortGate.always))
    #expect(datapath.gate(port: 99) == nil)
  }
}
