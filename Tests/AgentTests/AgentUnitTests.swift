import Addresses
import AgentCore
import Datapath
import Foundation
import Logging
import MidgeTestSupport
import NSDB
import Packets
import Simulation
import Testing
import Topology

@testable import Agent

@Suite("Agent configuration")
struct AgentConfigurationTests {
  @Test("the example configuration in ops/ parses to what it says")
  func example() throws {
    let path = ZooKeeperServer.repositoryRoot + "/ops/midge-agent.yaml"
    let configuration = try AgentConfiguration.parse(
      yaml: try String(contentsOfFile: path, encoding: .utf8))
    #expect(configuration.zookeeper == "127.0.0.1:2181")
    #expect(configuration.hostName == "hv1")
    #expect(configuration.tunnelPort == 6677)
    #expect(configuration.controlAddress == "127.0.0.1:7780")
    #expect(configuration.flowIdleTimeout == 60)
  }

  @Test("an empty file gives the defaults; a partial one overrides only what it names")
  func defaults() throws {
    #expect(try AgentConfiguration.parse(yaml: "") == AgentConfiguration())
    let partial = try AgentConfiguration.parse(yaml: "tunnelPort: 7000\nroot: /other\n")
    var expected = AgentConfiguration()
    expected.tunnelPort = 7000
    expected.root = "/other"
    #expect(partial == expected)
  }

  @Test("the control API may listen on any loopback address, metrics anywhere")
  func loopback() throws {
    let other = try AgentConfiguration.parse(yaml: "controlAddress: 127.0.0.2:7781\n")
    #expect(other.controlAddress == "127.0.0.2:7781")
    let metrics = try AgentConfiguration.parse(yaml: "metricsAddress: 0.0.0.0:9100\n")
    #expect(metrics.metricsAddress == "0.0.0.0:9100")
  }

  @Test(
    "bad settings are refused with a message naming them",
    arguments: [
      ("tunelPort: 7000", "tunelPort"), ("tunnelAddress: 300.1.1.1", "tunnelAddress"),
      ("sessionTimeout: 0.1", "sessionTimeout"), ("root: midge", "root"),
      ("controlAddress: localhost", "localhost"), ("- a\n- b", "mapping"),
      ("tunnelPort: [1]", "configuration"),
      ("controlAddress: 0.0.0.0:7780", "must be a loopback address"),
      ("controlAddress: 10.1.2.3:7780", "must be a loopback address"),
    ])
  func refused(_ text: String, _ named: String) {
    #expect {
      _ = try AgentConfiguration.parse(yaml: text)
    } throws: { error in
      "\(error)".contains(named)
    }
  }
}

@Suite("Agent translation: actions, tags, invalidation, control requests")
struct AgentTranslationTests {
  let port1 = ID(name: "Port/a")
  let port2 = ID(name: "Port/b")
  let host2 = ID(name: "Host/h2")
  let remote = TunnelEndpoint(address: IPv4Address(127, 0, 0, 1), port: 7001)

  @Test("local outputs become port numbers, remote ports tunnels to their host's endpoint")
  func actions() throws {
    let translator = ActionTranslator(localPorts: [port1: 11], endpoints: [host2: remote])
    let result = translator.translate([
      .decrementTTL, .setEthernetDestination(MACAddress(0x02, 0, 0, 0, 0, 1)),
      .output(port: port1), .tunnel(port: port2, host: host2, tunnelKey: 42),
    ])
    #expect(
      try result.get() == [
        .decrementTTL, .setEthernetDestination(MACAddress(0x02, 0, 0, 0, 0, 1)),
        .output(port: 11), .encapsulate(tunnelKey: 42, remote: remote),
      ])
  }

  /// One of each simulated action, and its position in an exhaustive `switch`: a new
  /// `Simulation.FlowAction` case stops this file compiling until it is added here.
  static let everySimulatedAction: [Simulation.FlowAction] = [
    .output(port: ID(name: "Port/a")),
    .tunnel(port: ID(name: "Port/b"), host: ID(name: "Host/h2"), tunnelKey: 42),
    .setEthernetSource(MACAddress(0x02, 0, 0, 0, 0, 1)),
    .setEthernetDestination(MACAddress(0x02, 0, 0, 0, 0, 2)),
    .setNetworkSource(IPv4Address(10, 0, 0, 1)),
    .setNetworkDestination(IPv4Address(10, 0, 0, 2)),
    .setTransportSource(1_234), .setTransportDestination(80), .decrementTTL, .setTTL(9),
    .pushVLAN(10), .popVLAN,
  ]

  static func kind(_ action: Simulation.FlowAction) -> Int {
    switch action {
    case .output: return 0
    case .tunnel: return 1
    case .setEthernetSource: return 2
    case .setEthernetDestination: return 3
    case .setNetworkSource: return 4
    case .setNetworkDestination: return 5
    case .setTransportSource: return 6
    case .setTransportDestination: return 7
    case .decrementTTL: return 8
    case .setTTL: return 9
    case .pushVLAN: return 10
    case .popVLAN: return 11
    }
  }

  @Test("every kind of simulated action has a datapath action; none becomes a drop")
  func everyActionTranslates() throws {
    let kinds = Set(Self.everySimulatedAction.map(Self.kind))
    #expect(kinds == Set(0...11), "a simulated action kind has no sample")
    let translator = ActionTranslator(localPorts: [port1: 11], endpoints: [host2: remote])
    for action in Self.everySimulatedAction {
      let translated = try translator.translate([action]).get()
      #expect(translated.count == 1, "\(action)")
      for result in translated {
        if case .drop = result { Issue.record("\(action) became \(result)") }
      }
    }
    #expect(
      try translator.translate([.setTTL(9), .pushVLAN(10), .popVLAN]).get() == [
        .setTTL(9), .pushVLAN(VLANTag(id: 10)), .popVLAN,
      ])
  }

  @Test("a port not attached here or an unknown host is a failure")
  func failures() {
    let translator = ActionTranslator(localPorts: [:], endpoints: [:])
    guard case .failure(let notHere) = translator.translate([.output(port: port1)]) else {
      Issue.record("an output to a port not attached here was translated")
      return
    }
    #expect(notHere.port == port1)
    guard
      case .failure(let noHost) = translator.translate([
        .tunnel(port: port2, host: host2, tunnelKey: 1)
      ])
    else {
      Issue.record("a tunnel to a host without endpoint was translated")
      return
    }
    #expect(noHost.port == port2)
  }

  @Test("flow tags hash the same each time and differently for different tags")
  func tags() {
    let mac = MACAddress(0x02, 0, 0, 0, 0, 7)
    let tags: [FlowTag] = [
      .device(port1), .port(port1), .chain(port1), .route(port1), .portGroup(port1),
      .ipAddrGroup(port1), .device(port2),
      .bridgeMAC(bridge: port1, vlan: 0, mac: mac), .bridgeMAC(bridge: port1, vlan: 1, mac: mac),
      .arpEntry(router: port1, ip: IPv4Address(10, 0, 0, 1)),
      .routerDestination(router: port1, ip: IPv4Address(10, 0, 0, 1)),
    ]
    let hashed = tags.map(FlowTagHasher.hash)
    #expect(Set(hashed).count == tags.count)
    #expect(tags.map(FlowTagHasher.hash) == hashed)
    #expect(FlowTagHasher.hash(tags + tags) == hashed)
  }

  @Test("a change invalidates the tags of the object before and after it")
  func invalidation() {
    let chainA = ID(name: "Chain/a")
    let chainB = ID(name: "Chain/b")
    let rule = Rule(id: ID(name: "Rule/x"), chainId: chainA, action: .drop)
    var moved = rule
    moved.chainId = chainB
    #expect(Set(Invalidation.tags(old: rule, new: moved)) == [.chain(chainA), .chain(chainB)])

    var chain = Chain(id: chainA, name: "a", ruleIds: [rule.id])
    var used = chain
    used.portInboundIds = [port1]
    #expect(Invalidation.tags(old: chain, new: used).isEmpty, "back-references change no verdict")
    chain.ruleIds = []
    #expect(Invalidation.tags(old: used, new: chain) == [.chain(chainA)])

    let bridge = ID(name: "Bridge/b")
    let port = Port(id: port1, device: .bridge(bridge), tunnelKey: 1)
    #expect(Set(Invalidation.tags(old: nil, new: port)) == [.port(port1), .device(bridge)])

    let router = ID(name: "Router/r")
    let route = Route(
      id: ID(name: "Route/r/0"), routerId: router,
      dstPrefix: try! IPv4Prefix(parsing: "10.0.0.0/8"), nextHop: .blackhole)
    #expect(Set(Invalidation.tags(old: route, new: nil)) == [.route(route.id), .device(router)])
  }

  @Test("a snapshot applies upserts and deletes and returns what they replaced")
  func snapshotChanges() {
    var snapshot = TopologySnapshot()
    let bridge = Bridge(id: ID(name: "Bridge/b"), name: "b")
    #expect(snapshot.apply(.upsert(bridge)) == nil)
    var renamed = bridge
    renamed.name = "c"
    #expect((snapshot.apply(.upsert(renamed)) as? Bridge) == bridge)
    #expect(snapshot.bridges[bridge.id]?.name == "c")
    #expect((snapshot.apply(.delete(.bridge, bridge.id)) as? Bridge) == renamed)
    #expect(snapshot.bridges.isEmpty)
  }

  @Test("control requests: path and percent-decoded query; any target parses")
  func controlRequests() throws {
    let request = ControlRequest(target: "/trace?port=x%2Fa&packet=tcp+10.0.0.2:1+%3E+10.0.1.5:80")
    #expect(request.path == "/trace")
    #expect(request.query["port"] == "x/a")
    #expect(request.query["packet"] == "tcp 10.0.0.2:1 > 10.0.1.5:80")
    // What crashed the hand-written parser, and other shapes of nothing.
    #expect(ControlRequest(target: "/health?=") == ControlRequest(path: "/health"))
    #expect(
      ControlRequest(target: "/health?=&&=x&a") == ControlRequest(path: "/health", query: ["a": ""])
    )
    #expect(ControlRequest(target: "") == ControlRequest(path: ""))
    #expect(ControlRequest(target: "?") == ControlRequest(path: ""))
    #expect(ControlRequest(target: "/x?a=%zz%") == ControlRequest(path: "/x", query: ["a": "%zz%"]))
  }
}

@Suite("Flow-state messages")
struct FlowStateMessageTests {
  let tuple = FlowTuple(
    source: IPv4Address(10, 0, 0, 2), destination: IPv4Address(10, 0, 1, 5),
    ipProtocol: 6, sourcePort: 40_000, destinationPort: 80)
  let device = ID(name: "Bridge/b")

  var changes: [StateChange] {
    [
      .conntrack(ConntrackKey(tuple: tuple, device: device)),
      .natBinding(
        NATBinding(
          forwardKey: NATKey(kind: .forwardSNAT, device: device, tuple: tuple),
          forward: NATTranslation(address: IPv4Address(192, 168, 0, 1), port: 10_001),
          reverseKey: NATKey(kind: .reverseSNAT, device: device, tuple: tuple.reversed),
          reverse: NATTranslation(address: IPv4Address(10, 0, 0, 2), port: 40_000))),
      .macLearned(
        bridge: device, vlan: 0, mac: MACAddress(0x02, 0, 0, 0, 0, 1), port: device),
    ]
  }

  @Test("conntrack entries and NAT bindings round-trip; learned MACs are not carried")
  func roundTrip() throws {
    let decoded = try FlowStateMessage.decode(FlowStateMessage.encode(changes))
    #expect(decoded == Array(changes.prefix(2)))
    let many = Array(repeating: changes[0], count: 500)
    let message = FlowStateMessage.encode(many)
    #expect(message.count < 500 * 30, "a batch of similar entries is compressed")
    #expect(try FlowStateMessage.decode(message) == many)
  }

  @Test("hand-over, owner and closing records round-trip")
  func handOverRecords() throws {
    let port = ID(name: "Port/moved")
    let closing: [FlowStateKey] = [
      .conntrack(ConntrackKey(tuple: tuple, device: device)),
      .nat(NATKey(kind: .forwardSNAT, device: device, tuple: tuple)),
    ]
    let message = FlowStateMessage.encode(
      changes, handOver: port, owner: port, closing: closing)
    let decoded = try FlowStateMessage.decodeMessage(message)
    #expect(decoded.changes == Array(changes.prefix(2)))
    #expect(decoded.owner == port && decoded.handOvers == [port])
    #expect(decoded.closing == closing)
    #expect(try FlowStateMessage.decodeMessage(FlowStateMessage.encode(changes)).owner == nil)
  }

  @Test("truncated, corrupted or foreign bytes are refused without a crash")
  func refused() {
    let message = FlowStateMessage.encode(changes)
    for length in [0, 3, 4, 10, message.count - 1] {
      #expect(throws: FlowStateMessage.DecodeError.self) {
        _ = try FlowStateMessage.decode(Array(message.prefix(length)))
      }
    }
    var random = SplitMix64(seed: 7)
    for _ in 0..<200 {
      var corrupt = message
      corrupt[Int(random.next() % UInt64(corrupt.count))] ^= UInt8(
        truncatingIfNeeded: random.next() | 1)
      _ = try? FlowStateMessage.decode(corrupt)  // must not trap
    }
    #expect(throws: FlowStateMessage.DecodeError.self) {
      _ = try FlowStateMessage.decode(Array("not flow state".utf8))
    }
  }
}

@Suite("Flow-state seals and tunnel keys")
struct FlowStateSealTests {
  let entry = StateChange.conntrack(
    ConntrackKey(
      tuple: FlowTuple(
        source: IPv4Address(10, 0, 0, 2), destination: IPv4Address(10, 0, 1, 5), ipProtocol: 6,
        sourcePort: 40_000, destinationPort: 80), device: ID(name: "Bridge/b")))

  func secret(_ byte: UInt8) -> String { Data(repeating: byte, count: 32).base64EncodedString() }

  @Test("a sealed message opens with the key it names; a wrong tag, key or none is refused")
  func sealAndOpen() throws {
    let list = TunnelKeyList().adding(secret: secret(1))
    #expect(list.signing?.id == 1)
    let seal = FlowStateSeal(list)
    let message = FlowStateMessage.encode([entry])
    let sealed = seal.seal(message)
    #expect(sealed != message && sealed.count == message.count + 1 + 16)
    #expect(try FlowStateMessage.decode(try seal.open(sealed)) == [entry])
    var tampered = sealed
    tampered[6] ^= 1
    #expect(throws: FlowStateMessage.DecodeError.self) { try seal.open(tampered) }
    #expect(throws: FlowStateMessage.DecodeError.self) { try seal.open(message) }
    let other = FlowStateSeal(TunnelKeyList().adding(secret: secret(2)))
    #expect(throws: FlowStateMessage.DecodeError.self) { try other.open(sealed) }
    // Without keys: unsealed messages only.
    let none = FlowStateSeal()
    #expect(none.seal(message) == message)
    #expect(try none.open(message) == message)
    #expect(throws: FlowStateMessage.DecodeError.self) { try none.open(sealed) }
  }

  @Test("a rotation accepts the new key before signing with it, and the old one after")
  func rotation() throws {
    let first = TunnelKeyList().adding(secret: secret(1))
    let announced = first.adding(secret: secret(2))
    let promoted = announced.promotingNewest()
    #expect(announced.signing?.id == 1 && announced.keys.map(\.id) == [1, 2])
    #expect(promoted.signing?.id == 2 && promoted.keys.map(\.id) == [1, 2])
    let byOld = FlowStateSeal(first).seal(FlowStateMessage.encode([entry]))
    let byNew = FlowStateSeal(promoted).seal(FlowStateMessage.encode([entry]))
    // Every pair of hosts at adjacent steps understands each other.
    for (sender, receiver) in [(first, announced), (announced, promoted), (promoted, announced)] {
      let message = FlowStateSeal(sender).seal(FlowStateMessage.encode([entry]))
      #expect(try FlowStateMessage.decode(try FlowStateSeal(receiver).open(message)) == [entry])
    }
    #expect(try FlowStateSeal(promoted).open(byOld).isEmpty == false)
    // The next rotation drops key 1.
    let next = promoted.adding(secret: secret(3)).promotingNewest()
    #expect(next.keys.map(\.id) == [2, 3])
    #expect(throws: FlowStateMessage.DecodeError.self) { try FlowStateSeal(next).open(byOld) }
    #expect(try FlowStateSeal(next).open(byNew).isEmpty == false)
  }
}

@Suite("Flow-state log")
struct FlowStateLogTests {
  /// A conntrack entry told apart by its source port.
  func entry(_ n: UInt16) -> StateChange {
    .conntrack(
      ConntrackKey(
        tuple: FlowTuple(
          source: IPv4Address(10, 0, 0, 1), destination: IPv4Address(10, 0, 0, 2),
          ipProtocol: 6, sourcePort: n, destinationPort: 80), device: ID(name: "Bridge/b")))
  }

  @Test("blocks append and load in order; a damaged tail is cut off, what came before is kept")
  func appendLoad() throws {
    let directory = NSTemporaryDirectory() + "midge-fslog-\(UUID().uuidString)"
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let log = FlowStateLog(directory: directory, logger: Logger(label: "test"))
    let port = ID(name: "Port/p")
    #expect(log.load(port).isEmpty)
    log.append(FlowStateMessage.encode([entry(1), entry(2)]), port: port)
    log.append(FlowStateMessage.encode([entry(3)]), port: port)
    #expect(log.load(port) == [entry(1), entry(2), entry(3)])
    // A write cut short by a crash: a length that promises more than the file holds.
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log.path(port)))
    try handle.seekToEnd()
    try handle.write(contentsOf: Data([0, 0, 1, 0, 0x4D, 0x46]))
    try handle.close()
    #expect(log.load(port) == [entry(1), entry(2), entry(3)])
    // Past the size cap the log starts afresh.
    let small = FlowStateLog(directory: directory, maximumBytes: 64, logger: Logger(label: "t"))
    small.append(FlowStateMessage.encode([entry(4)]), port: port)
    #expect(small.load(port) == [entry(4)])
    // The file removed behind the log's back (it keeps files open): the next write makes
    // a new one rather than writing where no one reads.
    let other = ID(name: "Port/q")
    log.append(FlowStateMessage.encode([entry(5)]), port: other)
    #expect(log.load(other) == [entry(5)])
    try FileManager.default.removeItem(atPath: log.path(other))
    log.append(FlowStateMessage.encode([entry(6)]), port: other)
    log.append(FlowStateMessage.encode([entry(7)]), port: other)
    #expect(log.load(other) == [entry(6), entry(7)])
  }

  @Test("a log well past its live entries is rewritten with them; later writes follow them")
  func compaction() throws {
    let directory = NSTemporaryDirectory() + "midge-fslog-\(UUID().uuidString)"
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let log = FlowStateLog(directory: directory, maximumBytes: 16_384, logger: Logger(label: "t"))
    let port = ID(name: "Port/p")
    var written: UInt16 = 0
    while log.dueForCompaction().isEmpty && written < 2_000 {
      written += 1
      log.append(FlowStateMessage.encode([entry(written)]), port: port)
      log.flush()
    }
    #expect(log.dueForCompaction() == [port], "\(written) blocks never made the log due")
    #expect(log.load(port).count == Int(written))
    log.compact(port, messages: [FlowStateMessage.encode([entry(1), entry(written)])])
    #expect(log.load(port) == [entry(1), entry(written)])
    #expect(log.dueForCompaction().isEmpty)
    log.append(FlowStateMessage.encode([entry(9_999)]), port: port)
    #expect(log.load(port) == [entry(1), entry(written), entry(9_999)])
  }
}
