import Packets
import Simulation
import Testing
import Topology

/// SplitMix64: a tiny seeded generator, so every run checks the same cases
/// and a failure names its seed.
struct SeededGenerator: RandomNumberGenerator {
  var state: UInt64

  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

/// A random small topology: bridges and routers, exterior and interior
/// ports linked at random (loops included), routes, chains that jump at
/// random (jump loops included), some objects left out of the view.
private func randomTopology(_ rng: inout SeededGenerator) -> (Net, ports: [ID], macs: [String]) {
  var net = Net()
  let bridges = (0..<Int.random(in: 1...3, using: &rng)).map { net.bridge("b\($0)") }
  let routers = (0..<Int.random(in: 0...2, using: &rng)).map { net.router("r\($0)") }
  var chains: [ID] = []
  for index in 0..<Int.random(in: 0...3, using: &rng) {
    let id = ID(name: "chain\(index)")
    chains.append(id)
    _ = id
  }
  let actions: [RuleAction] = [
    .accept, .drop, .reject, .continue, .return,
    .snat(targets: [NatTarget(address: ip("203.0.113.1"))]),
    .dnat(targets: [NatTarget(address: ip("10.0.0.5"))]),
    .reverseSNAT, .reverseDNAT,
  ]
  for (index, _) in chains.enumerated() {
    var rules: [(Condition, RuleAction)] = []
    for _ in 0..<Int.random(in: 0...4, using: &rng) {
      var condition = Condition()
      if Bool.random(using: &rng) { condition.nwProto = [1, 6, 17].randomElement(using: &rng) }
      if Bool.random(using: &rng) { condition.matchReturnFlow = true }
      if Bool.random(using: &rng) { condition.invNwProto = true }
      let action: RuleAction =
        Int.random(in: 0..<4, using: &rng) == 0
        ? .jump(chainId: chains.randomElement(using: &rng)!)
        : actions.randomElement(using: &rng)!
      rules.append((condition, action))
    }
    net.chain("chain\(index)", rules)
  }
  func maybeChain(_ rng: inout SeededGenerator) -> ID? {
    Int.random(in: 0..<3, using: &rng) == 0 ? chains.randomElement(using: &rng) : nil
  }

  var ports: [ID] = []
  var macs: [String] = ["ff:ff:ff:ff:ff:ff"]
  var interior: [ID] = []
  for (index, bridge) in bridges.enumerated() {
    for vm in 0..<Int.random(in: 1...3, using: &rng) {
      let host = Bool.random(using: &rng) ? localHost : remoteHost
      let port = net.vmPort(
        "b\(index)-vm\(vm)", on: bridge, host: host, inbound: maybeChain(&rng),
        outbound: maybeChain(&rng), vlan: Int.random(in: 0..<5, using: &rng) == 0 ? 10 : nil,
        activate: Int.random(in: 0..<4, using: &rng) != 0)
      ports.append(port)
      let macText = "02:00:00:00:0\(index):0\(vm)"
      macs.append(macText)
      if Bool.random(using: &rng) { net.learn(bridge, macText, on: port) }
    }
    for link in 0..<Int.random(in: 0...2, using: &rng) {
      interior.append(net.interiorPort("b\(index)-link\(link)", on: .bridge(bridge)))
    }
  }
  for (index, router) in routers.enumerated() {
    for link in 0..<Int.random(in: 1...3, using: &rng) {
      let macText = "02:00:00:00:1\(index):0\(link)"
      macs.append(macText)
      let port = net.routerPort(
        "r\(index)-p\(link)", on: router, address: "10.\(index).\(link).1",
        subnet: "10.\(index).\(link).0/24", mac: macText,
        exterior: Int.random(in: 0..<3, using: &rng) == 0)
      if net.topology.ports[port]?.isExterior == true {
        ports.append(port)
      } else {
        interior.append(port)
      }
      net.route(
        "r\(index)-route\(link)", on: router,
        to: ["0.0.0.0/0", "10.0.0.0/8", "10.\(index).\(link).0/24"].randomElement(using: &rng)!,
        via: port, gateway: Bool.random(using: &rng) ? "10.\(index).\(link).2" : nil)
      net.arp(router, "10.\(index).\(link).2", "02:00:00:00:00:01")
    }
    net.topology.routers[router]?.inboundFilterId = maybeChain(&rng)
    net.topology.routers[router]?.outboundFilterId = maybeChain(&rng)
  }
  interior.shuffle(using: &rng)
  while interior.count >= 2 {
    net.link(interior.removeLast(), interior.removeLast())
  }
  // Sometimes leave something out of the view.
  if Int.random(in: 0..<5, using: &rng) == 0,
    let victim = net.topology.ports.keys.randomElement(using: &rng)
  {
    net.topology.remove(Port.self, id: victim)
  }
  if Int.random(in: 0..<5, using: &rng) == 0, let victim = chains.randomElement(using: &rng) {
    net.topology.remove(Chain.self, id: victim)
  }
  return (net, ports, macs)
}

private func randomPacket(_ rng: inout SeededGenerator, macs: [String]) -> SimulationPacket {
  let src = macs.dropFirst().randomElement(using: &rng) ?? "02:00:00:00:00:01"
  let dst = macs.randomElement(using: &rng)!
  let srcIP =
    "10.\(Int.random(in: 0...1, using: &rng)).\(Int.random(in: 0...2, using: &rng)).\(Int.random(in: 1...9, using: &rng))"
  let dstIP =
    "10.\(Int.random(in: 0...1, using: &rng)).\(Int.random(in: 0...2, using: &rng)).\(Int.random(in: 1...9, using: &rng))"
  let ttl = UInt8.random(in: 1...4, using: &rng)
  switch Int.random(in: 0..<4, using: &rng) {
  case 0: return Frame.arpRequest(from: src, srcIP, for: dstIP)
  case 1: return Frame.tcp(from: src, to: dst, srcIP, dstIP, ttl: ttl)
  case 2: return Frame.icmp(from: src, to: dst, srcIP, dstIP, ttl: ttl)
  default: return Frame.udp(from: src, to: dst, srcIP, dstIP, ttl: ttl)
  }
}

@Suite("Properties")
struct PropertyTests {
  @Test("random topologies and packets: always terminates, outputs name existing exterior ports")
  func randomSimulations() {
    var checked = 0
    for seed in UInt64(1)...300 {
      var rng = SeededGenerator(state: seed)
      let (net, ports, macs) = randomTopology(&rng)
      let view = net.view
      for _ in 0..<10 {
        guard let ingress = ports.randomElement(using: &rng) else { continue }
        let packet = randomPacket(&rng, macs: macs)
        let result = simulator.simulate(packet, ingress: ingress, view: view, trace: seed % 7 == 0)
        checked += 1
        #expect(result.devicesVisited <= 17, "seed \(seed)")
        for port in result.outputPorts {
          #expect(view.topology.ports[port]?.isExterior == true, "seed \(seed): output \(port)")
        }
        for generated in result.generatedPackets {
          #expect(view.topology.ports[generated.egressPort] != nil, "seed \(seed)")
        }
        switch result.verdict {
        case .forward:
          #expect(!result.outputPorts.isEmpty, "seed \(seed)")
        case .notYet(let ids):
          #expect(!ids.isEmpty, "seed \(seed)")
          #expect(result.actions.isEmpty && result.stateChanges.isEmpty, "seed \(seed)")
        default:
          #expect(result.outputPorts.isEmpty, "seed \(seed)")
        }
        // Pure: the same input gives the same result.
        let again = simulator.simulate(packet, ingress: ingress, view: view)
        #expect(again.verdict == result.verdict && again.actions == result.actions, "seed \(seed)")
      }
    }
    #expect(checked > 2000)
  }
}
