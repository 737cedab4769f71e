import Addresses
import Benchmark
import Packets
import Simulation
import Topology

// First-packet simulations per second on one core, and mallocs per simulation:
// - VM → bridge → VM (MAC known);
// - VM → bridge → router → bridge → VM, with a 20-rule chain on both VM ports
//   (one of them stateful, so conntrack is consulted and a return entry asked for).
// Run: swift package benchmark --target SimulationBenchmarks

private let host = ID(name: "bench-host")
private let vm1MAC = MACAddress(rawValue: 0x0200_0000_0001)
private let vm2MAC = MACAddress(rawValue: 0x0200_0000_0002)
private let rp1MAC = MACAddress(rawValue: 0x0200_0000_0101)
private let rp2MAC = MACAddress(rawValue: 0x0200_0000_0102)

private func exteriorPort(
  _ name: String, on bridge: ID, key: UInt32, inbound: ID? = nil, outbound: ID? = nil
) -> Port {
  Port(
    id: ID(name: name), device: .bridge(bridge), tunnelKey: key, inboundFilterId: inbound,
    outboundFilterId: outbound, hostId: host, interfaceName: name)
}

/// A 20-rule chain in which the packet is judged by the last rules: 18 rules
/// that do not match (TCP port rules for a UDP packet), then `last`.
private func chain(
  _ name: String, last: [(Condition, RuleAction)], into topology: inout TopologySnapshot
)
  -> ID
{
  let id = ID(name: name)
  var rules: [(Condition, RuleAction)] = (0..<18).map { index in
    (
      Condition(dlType: 0x0800, nwProto: 6, tpDst: UInt16(1000 + index)...UInt16(1000 + index)),
      .accept
    )
  }
  rules += last
  var ruleIds: [ID] = []
  for (index, (condition, action)) in rules.enumerated() {
    let ruleId = ID(name: "\(name)-\(index)")
    topology.insert(Rule(id: ruleId, chainId: id, condition: condition, action: action))
    ruleIds.append(ruleId)
  }
  topology.insert(Chain(id: id, name: name, ruleIds: ruleIds))
  return id
}

private func udp(_ dstMAC: MACAddress, _ dst: IPv4Address) -> SimulationPacket {
  let frame = try! PacketBuilder.udp(
    ethernet: EthernetHeader(destination: dstMAC, source: vm1MAC),
    ipv4: IPv4Header(source: IPv4Address(10, 0, 0, 1), destination: dst),
    sourcePort: 40_000, destinationPort: 53, payload: [UInt8](repeating: 0, count: 64))
  return try! SimulationPacket(frame: frame)
}

/// VM1 and VM2 on one bridge.
private func bridged() -> (SimulationView, SimulationPacket, ingress: ID) {
  var topology = TopologySnapshot()
  let bridge = ID(name: "b1")
  topology.insert(Bridge(id: bridge, name: "b1"))
  let vm1 = exteriorPort("vm1", on: bridge, key: 1)
  let vm2 = exteriorPort("vm2", on: bridge, key: 2)
  topology.insert(vm1)
  topology.insert(vm2)
  let view = SimulationView(
    topology: topology,
    macTable: [
      MACTableKey(bridge: bridge, vlan: 0, mac: vm1MAC): vm1.id,
      MACTableKey(bridge: bridge, vlan: 0, mac: vm2MAC): vm2.id,
    ],
    activePorts: [
      vm1.id: PortActivation(host: host, tunnelKey: 1),
      vm2.id: PortActivation(host: host, tunnelKey: 2),
    ])
  return (view, udp(vm2MAC, IPv4Address(10, 0, 0, 2)), vm1.id)
}

/// VM1 on b1, VM2 on b2, a router between, filter chains on both VM ports.
private func routed() -> (SimulationView, SimulationPacket, ingress: ID) {
  var topology = TopologySnapshot()
  let b1 = ID(name: "b1")
  let b2 = ID(name: "b2")
  let router = ID(name: "r1")
  topology.insert(Bridge(id: b1, name: "b1"))
  topology.insert(Bridge(id: b2, name: "b2"))
  topology.insert(Router(id: router, name: "r1"))
  let antiSpoof = chain(
    "vm1-in",
    last: [(Condition(dlSrc: topologyMAC(vm1MAC), invDlSrc: true), .drop), (.any, .accept)],
    into: &topology)
  let policy = chain(
    "vm2-out",
    last: [(Condition(matchReturnFlow: true), .accept), (Condition(nwProto: 17), .accept)],
    into: &topology)
  let vm1 = exteriorPort("vm1", on: b1, key: 1, inbound: antiSpoof)
  let vm2 = exteriorPort("vm2", on: b2, key: 2, outbound: policy)
  topology.insert(vm1)
  topology.insert(vm2)
  for (index, bridge, address, mac) in [
    (1, b1, IPv4Address(10, 0, 0, 254), rp1MAC),
    (2, b2, IPv4Address(10, 0, 1, 254), rp2MAC),
  ] {
    let routerPort = ID(name: "rp\(index)")
    let bridgePort = ID(name: "bp\(index)")
    let subnet = IPv4Prefix(address, length: 24)
    topology.insert(
      Port(
        id: routerPort, device: .router(router), peerId: bridgePort, portAddress: address,
        portSubnet: subnet, portMAC: mac))
    topology.insert(Port(id: bridgePort, device: .bridge(bridge), peerId: routerPort))
    topology.insert(
      Route(
        id: ID(name: "route\(index)"), routerId: router, dstPrefix: subnet.canonical,
        nextHop: .port,
        nextHopPortId: routerPort))
  }
  let view = SimulationView(
    topology: topology,
    macTable: [
      MACTableKey(bridge: b1, vlan: 0, mac: vm1MAC): vm1.id,
      MACTableKey(bridge: b2, vlan: 0, mac: vm2MAC): vm2.id,
    ],
    arpTable: [DeviceIPKey(device: router, ip: IPv4Address(10, 0, 1, 2)): vm2MAC],
    activePorts: [
      vm1.id: PortActivation(host: host, tunnelKey: 1),
      vm2.id: PortActivation(host: host, tunnelKey: 2),
    ])
  return (
    view, udp(rp1MAC, IPv4Address(10, 0, 1, 2)), vm1.id
  )
}

private func topologyMAC(_ mac: MACAddress) -> MACAddress {
  MACAddress(rawValue: mac.rawValue)
}

let benchmarks: @Sendable () -> Void = {
  Benchmark.defaultConfiguration = .init(
    metrics: [.throughput, .wallClock, .mallocCountTotal],
    scalingFactor: .kilo, maxDuration: .seconds(3))
  let simulator = Simulator(localHost: host)

  Benchmark("simulate VM-bridge-VM") { benchmark in
    let (view, packet, ingress) = bridged()
    precondition(simulator.simulate(packet, ingress: ingress, view: view).verdict == .forward)
    benchmark.startMeasurement()
    for _ in benchmark.scaledIterations {
      blackHole(simulator.simulate(packet, ingress: ingress, view: view))
    }
  }

  Benchmark("simulate VM-bridge-router-bridge-VM, 2x20 rules, conntrack") { benchmark in
    let (view, packet, ingress) = routed()
    let check = simulator.simulate(packet, ingress: ingress, view: view)
    precondition(check.verdict == .forward && check.stateChanges.count == 1, "\(check.verdict)")
    benchmark.startMeasurement()
    for _ in benchmark.scaledIterations {
      blackHole(simulator.simulate(packet, ingress: ingress, view: view))
    }
  }
}
