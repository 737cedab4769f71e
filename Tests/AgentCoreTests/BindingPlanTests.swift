import AgentCore
import Datapath
import Testing
import Topology

@Suite("BindingPlan: which interfaces to attach and detach")
struct BindingPlanTests {
  static let here = ID(name: "host-here")
  static let there = ID(name: "host-there")
  static let bridge = ID(name: "bridge")

  func port(_ name: String, key: UInt32, host: ID?, interface: String?) -> Port {
    Port(
      id: ID(name: name), device: .bridge(Self.bridge), tunnelKey: key, hostId: host,
      interfaceName: interface)
  }

  func snapshot(_ ports: [Port]) -> TopologySnapshot {
    var snapshot = TopologySnapshot()
    for port in ports { snapshot.insert(port) }
    return snapshot
  }

  @Test("bound ports of this host with an existing interface are attached, in id order")
  func attachesBoundPorts() {
    let ports = [
      port("a", key: 5, host: Self.here, interface: "tap-a"),
      port("b", key: 6, host: Self.here, interface: "tap-b"),
      port("c", key: 7, host: Self.there, interface: "tap-c"),
      port("d", key: 8, host: Self.here, interface: nil),
    ]
    let plan = BindingPlan(
      host: Self.here, snapshot: snapshot(ports), led: [:], attached: [:],
      interfaces: ["tap-a", "tap-b", "tap-c"])
    #expect(Set(plan.attach.map(\.interface)) == ["tap-a", "tap-b"])
    #expect(plan.attach.map(\.port) == plan.attach.map(\.port).sorted())
    #expect(plan.attach.first { $0.interface == "tap-a" }?.key == 5)
    #expect(plan.detach.isEmpty)
    #expect(plan.unattachable.isEmpty)
  }

  @Test("a missing interface, a reserved key and a key already in use are reported, not tried")
  func unattachable() {
    let ports = [
      port("missing", key: 5, host: Self.here, interface: "tap-gone"),
      port("zero", key: 0, host: Self.here, interface: "tap-zero"),
      port("reserved", key: DatapathSwitch.messageTunnelKey, host: Self.here, interface: "tap-r"),
      port("first", key: 9, host: Self.here, interface: "tap-1"),
      port("clash", key: 9, host: Self.here, interface: "tap-2"),
    ]
    let plan = BindingPlan(
      host: Self.here, snapshot: snapshot(ports), led: [:],
      attached: [ID(name: "first"): .init(interface: "tap-1", key: 9)],
      interfaces: ["tap-zero", "tap-r", "tap-1", "tap-2"])
    #expect(plan.attach.isEmpty)
    #expect(plan.unattachable[ID(name: "missing")] == "no interface named tap-gone")
    #expect(plan.unattachable[ID(name: "zero")]?.contains("unusable") == true)
    #expect(plan.unattachable[ID(name: "reserved")]?.contains("unusable") == true)
    #expect(plan.unattachable[ID(name: "clash")]?.contains("already in use") == true)
  }

  @Test("a changed or removed binding is detached; a changed one is attached again")
  func detachesChanged() {
    let ports = [port("moved", key: 5, host: Self.here, interface: "tap-new")]
    let attached: [ID: BindingPlan.Attached] = [
      ID(name: "moved"): .init(interface: "tap-old", key: 5),
      ID(name: "gone"): .init(interface: "tap-gone", key: 6),
    ]
    let plan = BindingPlan(
      host: Self.here, snapshot: snapshot(ports), led: [:], attached: attached, interfaces: nil)
    #expect(Set(plan.detach) == [ID(name: "moved"), ID(name: "gone")])
    #expect(plan.attach.map(\.interface) == ["tap-new"])
  }

  @Test("a port this host leads as elected candidate is attached on the candidate's interface")
  func ledPorts() {
    let uplink = port("uplink", key: 11, host: nil, interface: nil)
    let plan = BindingPlan(
      host: Self.here, snapshot: snapshot([uplink]), led: [uplink.id: "uplink-a"], attached: [:],
      interfaces: ["uplink-a"])
    #expect(plan.attach == [.init(port: uplink.id, interface: "uplink-a", key: 11)])
  }
}
