import Addresses
import Agent
import AgentCore
import ArgumentParser
import CommandSupport
import Datapath
import Foundation
import Glibc
import Logging
import NSDB
import Packets
import Simulation
import Topology
import ZooKeeper

/// `midge-bench flowstate`: the flow-state figures (conntrack and NAT lifetimes, leased
/// source-NAT ports, refresh), measured on the agent's core itself — real simulations of
/// real frames, real leases in ZooKeeper — on a simulated clock, so a million
/// connections and their timeouts take seconds, not hours.
///
/// - churn: short TCP connections (SYN, SYN-ACK, FIN each way) from VMs through source
///   NAT, at `rate` per simulated second, with a sweep every sweep interval. RSS (after
///   `malloc_trim`) and the table sizes after the first 10,000 and once every timeout
///   has passed.
/// - collisions: two hosts, each with its own ZooKeeper session and leases, open
///   `connections` each to one destination through one source-NAT address. Their copies
///   are exchanged as the agents do, and every reply is simulated on the *other* host:
///   a port both hosts used, or a reply that reaches another VM, is a collision. Run once
///   with leasing and once without, for comparison.
/// - refresh: `connections` open connections whose flows carry packets, for ten refresh
///   periods: the bytes of flow-state messages sent to the peer per second.
struct BenchFlowState: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "flowstate",
    abstract: "Flow-state expiry under churn, leased SNAT ports across hosts, refresh cost.")

  @Option(name: .customLong("zk"), help: "ZooKeeper connect string.")
  var connectString: String = Environment.zookeeper
  @Option(help: "Churn: short connections in all.") var churn = 1_000_000
  @Option(help: "Churn: new connections per simulated second.") var rate = 1_000
  @Option(help: "Collisions and refresh: connections per host.") var connections = 10_000
  @Option(help: "Which parts: churn, collisions, refresh (repeat the option).")
  var parts: [String] = Self.allParts

  static let allParts = ["churn", "collisions", "refresh"]

  func validate() throws {
    for part in parts where !Self.allParts.contains(part) {
      throw ValidationError(
        "unknown part '\(part)' (--parts takes \(Self.allParts.joined(separator: ", ")))")
    }
    guard churn >= 10_000 else { throw ValidationError("--churn must be at least 10000") }
    guard (1...20_000).contains(rate) else { throw ValidationError("--rate: 1 to 20000") }
    guard (1...60_000).contains(connections) else {
      throw ValidationError("--connections: 1 to 60000 (one source-NAT address)")
    }
  }

  func run() async throws {
    var logger = Logger(label: "midge-bench.flowstate")
    logger.logLevel = .warning
    let client = try await ZooKeeperClient.connect(to: connectString, logger: logger)
    let root = "/midge-bench-flowstate-\(UInt32.random(in: 0...UInt32.max))"
    let paths = NSDBPaths(root: root)
    defer {
      Task {
        try? await client.deleteRecursively(root)
        await client.close()
      }
    }
    if parts.contains("churn") { try await runChurn(client, paths, logger) }
    if parts.contains("collisions") {
      for leasing in [true, false] { try await runCollisions(paths, leasing: leasing, logger) }
    }
    if parts.contains("refresh") { runRefresh() }
  }
}

// MARK: The world

/// One host's core in a small world: VMs behind a router's `inside` port (datapath port
/// 1), the outside behind its `outside` port, served by host `there` (so replies and
/// state go there), source NAT to 10.255.0.1 ports 1024-65535, and the server's MAC
/// known.
struct FlowStateWorld {
  static let here = ID(name: "Host/flowstate-here")
  static let there = ID(name: "Host/flowstate-there")
  static let router = ID(name: "Router/flowstate")
  static let inside = ID(name: "Port/flowstate-inside")
  static let outside = ID(name: "Port/flowstate-outside")
  static let insideMAC = MACAddress(rawValue: 0x0200_0000_0101)
  static let outsideMAC = MACAddress(rawValue: 0x0200_0000_0201)
  static let vmMAC = MACAddress(rawValue: 0x0200_0000_0A01)
  static let serverMAC = MACAddress(rawValue: 0x0200_0000_0B01)
  static let server = IPv4Address(10, 200, 0, 7)
  static let masquerade = IPv4Address(10, 255, 0, 1)
  static let thereEndpoint = TunnelEndpoint(address: IPv4Address(127, 0, 0, 2), port: 6677)

  let origin = ContinuousClock.now
  var core: AgentCore

  /// `outsideLocal`: the outside port is attached here too (replies are simulated
  /// here); otherwise host `there` serves it and gets this host's flow state.
  init(host: ID = here, leasing: Bool, outsideLocal: Bool) {
    var settings = AgentCore.Settings(flowIdleTimeout: .seconds(60), pendingTimeout: .seconds(5))
    settings.flowStateTimeouts = FlowStateTimeouts()
    core = AgentCore(hostID: host, settings: settings, origin: origin)
    let pre = ID(name: "Chain/flowstate-pre")
    let post = ID(name: "Chain/flowstate-post")
    var objects: [any ModelObject] = [
      Chain(id: pre, name: "pre", ruleIds: [ID(name: "Rule/unsnat")]),
      Rule(id: ID(name: "Rule/unsnat"), chainId: pre, action: .reverseSNAT),
      Chain(id: post, name: "post", ruleIds: [ID(name: "Rule/snat")]),
      Rule(
        id: ID(name: "Rule/snat"), chainId: post,
        condition: Condition(outPortIds: [Self.outside]),
        action: .snat(targets: [
          NatTarget(
            addressFrom: Self.masquerade, addressTo: Self.masquerade, portFrom: 1024,
            portTo: 65_535)
        ])),
      Router(id: Self.router, name: "router", inboundFilterId: pre, outboundFilterId: post),
      Port(
        id: Self.inside, device: .router(Self.router), tunnelKey: 1, hostId: host,
        interfaceName: "in", portAddress: IPv4Address(10, 0, 0, 1),
        portSubnet: IPv4Prefix("10.0.0.0/8"), portMAC: Self.insideMAC),
      Port(
        id: Self.outside, device: .router(Self.router), tunnelKey: 2,
        hostId: outsideLocal ? host : Self.there,
        interfaceName: "out", portAddress: IPv4Address(10, 200, 0, 1),
        portSubnet: IPv4Prefix("10.200.0.0/16"), portMAC: Self.outsideMAC),
      Route(
        id: ID(name: "Route/inside"), routerId: Self.router, dstPrefix: IPv4Prefix("10.0.0.0/8")!,
        nextHop: .port, nextHopPortId: Self.inside),
      Route(
        id: ID(name: "Route/outside"), routerId: Self.router,
        dstPrefix: IPv4Prefix("10.200.0.0/16")!, nextHop: .port, nextHopPortId: Self.outside),
    ]
    let peer = host == Self.here ? Self.there : Self.here
    objects.append(
      TunnelZone(
        id: ID(name: "TunnelZone/flowstate"), name: "zone",
        members: [peer: .init(address: Self.thereEndpoint.address, port: 6677)]))
    for object in objects { _ = core.applyTopology(.upsert(object)) }
    _ = core.attach(Self.inside, number: 1)
    _ = core.setAlive(peer, true)
    if outsideLocal {
      _ = core.attach(Self.outside, number: 2)
    } else {
      _ = core.setActivation(Self.outside, PortActivation(host: Self.there, tunnelKey: 2))
    }
    // The server and every client address the parts use (10.1.0.0/26, 10.2.0.0/26).
    var neighbours = [Self.server: Self.serverMAC]
    for base: UInt32 in [0x0A01_0000, 0x0A02_0000] {
      for offset: UInt32 in 0..<64 { neighbours[IPv4Address(rawValue: base + offset)] = Self.vmMAC }
    }
    _ = core.applyARPTable(Self.router, neighbours, now: origin)
    if leasing { core.enableNATLeasing() }
  }

  func at(_ seconds: Double) -> ContinuousClock.Instant {
    origin + .nanoseconds(Int64(seconds * 1e9))
  }

  /// A TCP segment from VM `client`:`port` to the server's port 80, entering port 1.
  static func outbound(_ client: IPv4Address, _ port: UInt16, _ flags: TCPFlags) -> (
    FlowMatch, [UInt8]
  ) {
    segment(1, vmMAC, insideMAC, client, port, server, 80, flags)
  }

  /// The server's segment back to the masquerade address, entering the outside port.
  static func inbound(_ port: UInt16, _ flags: TCPFlags) -> (FlowMatch, [UInt8]) {
    segment(2, serverMAC, outsideMAC, server, 80, masquerade, port, flags)
  }

  static func segment(
    _ datapathPort: UInt32, _ source: MACAddress, _ destination: MACAddress,
    _ sourceIP: IPv4Address, _ sourcePort: UInt16, _ destinationIP: IPv4Address,
    _ destinationPort: UInt16, _ flags: TCPFlags
  ) -> (FlowMatch, [UInt8]) {
    let frame =
      (try? PacketBuilder.tcp(
        ethernet: EthernetHeader(destination: destination, source: source),
        ipv4: IPv4Header(source: sourceIP, destination: destinationIP),
        tcp: TCPHeader(sourcePort: sourcePort, destinationPort: destinationPort, flags: flags)))
      ?? []
    let match =
      (try? FlowMatch(frame: frame, ingressPort: datapathPort))
      ?? FlowMatch(ingressPort: datapathPort)
    return (match, frame)
  }

  /// The client address of connection `index` (10.1.0.0 and up, 50,000 ports each).
  static func client(_ index: Int, base: UInt32 = 0x0A01_0000) -> (IPv4Address, UInt16) {
    (IPv4Address(rawValue: base + UInt32(index / 50_000)), UInt16(10_000 + index % 50_000))
  }
}

/// Answers a core's lease requests through a real ZooKeeper session, as the agent does.
struct LeaseDriver {
  let leases: NATLeases
  let host: ID
  var held = 0
  var released = 0
  var ahead = 0
  var exhausted = 0

  /// Carries out the lease directives among `directives` (and those their answers make)
  /// and returns every directive seen.
  mutating func drive(
    _ directives: [AgentDirective], _ core: inout AgentCore, now: ContinuousClock.Instant
  ) async throws -> [AgentDirective] {
    var all = directives
    var work = directives
    if directives.contains(where: { if case .leaseNAT = $0 { true } else { false } }) {
      if directives.contains(where: { if case .install = $0 { true } else { false } }) {
        ahead += 1
      } else {
        exhausted += 1
      }
    }
    while !work.isEmpty {
      var next: [AgentDirective] = []
      for directive in work {
        switch directive {
        case .leaseNAT(let targets, let heldBlocks):
          var block: NATBlock?
          for target in targets where block == nil {
            let indices = NATBlock.indices(covering: target.portFrom...target.portTo).filter {
              !heldBlocks.contains(NATBlock(address: target.addressFrom, index: $0))
            }
            block = try await leases.lease(
              host: host, address: target.addressFrom, indices: indices)
          }
          if block != nil { held += 1 }
          next += core.natLeased(block, now: now)
        case .releaseNAT(let block):
          try await leases.release(block)
          released += 1
        default:
          break
        }
      }
      all += next
      work = next
    }
    return all
  }
}

extension [AgentDirective] {
  /// The tags of the flows installed.
  var installedTags: [FlowTagHash] {
    flatMap { if case .install(let entry) = $0 { return entry.tags } else { return [] } }
  }
}

/// glibc's `malloc_trim` (malloc.h, which the Glibc module does not export).
@_silgen_name("malloc_trim") private func mallocTrim(_ pad: Int) -> Int32

/// Resident memory after giving freed heap back to the system, in MiB.
func residentMiB() -> Double {
  _ = mallocTrim(0)
  guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
    let pages = Double(text.split(separator: " ").dropFirst().first ?? "")
  else { return -1 }
  return pages * Double(sysconf(Int32(_SC_PAGESIZE))) / 1_048_576
}

// MARK: The parts

extension BenchFlowState {
  func runChurn(_ client: ZooKeeperClient, _ paths: NSDBPaths, _ logger: Logger) async throws {
    var world = FlowStateWorld(leasing: true, outsideLocal: true)
    var driver = LeaseDriver(
      leases: NATLeases(client: client, paths: paths, logger: logger), host: FlowStateWorld.here)
    let sweepEvery = world.core.flowState.timeouts.sweepInterval.seconds
    var nextSweep = sweepEvery
    var used: [FlowTagHash] = []
    var baseline: (rss: Double, nat: Int, conntrack: Int, leases: Int)?
    var peakNAT = 0
    var dropped = 0
    let began = ContinuousClock.now
    for index in 0..<churn {
      let t = Double(index) / Double(rate)
      let at = world.at(t)
      let (address, port) = FlowStateWorld.client(index)
      var out = try await driver.drive(
        world.core.miss(
          FlowStateWorld.outbound(address, port, .syn).0,
          frame: FlowStateWorld.outbound(address, port, .syn).1, now: at), &world.core, now: at)
      used += out.installedTags
      guard let nat = out.installedPort else {
        dropped += 1
        continue
      }
      for packet in [
        FlowStateWorld.inbound(nat, [.syn, .ack]),
        FlowStateWorld.outbound(address, port, [.fin, .ack]),
        FlowStateWorld.inbound(nat, [.fin, .ack]),
      ] {
        out = try await driver.drive(
          world.core.miss(packet.0, frame: packet.1, now: at), &world.core, now: at)
        used += out.installedTags
      }
      peakNAT = max(peakNAT, world.core.flowState.natCount)
      if t >= nextSweep {
        nextSweep += sweepEvery
        _ = try await driver.drive(
          world.core.sweepFlowState(usedTags: used, now: at), &world.core, now: at)
        used = []
      }
      if index + 1 == 10_000 {
        baseline = (
          residentMiB(), world.core.flowState.natCount, world.core.view.conntrack.count,
          world.core.view.natLeases?.values.reduce(0) { $0 + $1.count } ?? 0
        )
      }
    }
    let wall = ContinuousClock.now - began
    // Every timeout passes with no traffic.
    let end = Double(churn) / Double(rate)
    let longest = world.core.flowState.timeouts.tcpEstablished.seconds
    for extra in stride(from: sweepEvery, through: longest + 2 * sweepEvery, by: sweepEvery) {
      let at = world.at(end + extra)
      _ = try await driver.drive(
        world.core.sweepFlowState(usedTags: [], now: at), &world.core, now: at)
    }
    let after = (
      rss: residentMiB(), nat: world.core.flowState.natCount,
      conntrack: world.core.view.conntrack.count,
      leases: world.core.view.natLeases?.values.reduce(0) { $0 + $1.count } ?? 0
    )
    let first = baseline ?? after
    print(
      """
      churn: \(churn) short TCP connections through SNAT at \(rate)/simulated s, 4 simulations each, \(String(format: "%.1f", wall.seconds)) s wall (\(Int(Double(churn) / wall.seconds)) connections/s); \(dropped) refused
        after 10,000:  RSS \(String(format: "%.1f", first.rss)) MiB, NAT bindings \(first.nat), conntrack \(first.conntrack), leased blocks \(first.leases)
        peak:          NAT bindings \(peakNAT)
        all timed out: RSS \(String(format: "%.1f", after.rss)) MiB (\(String(format: "%+.1f", (after.rss / first.rss - 1) * 100))%), NAT bindings \(after.nat), conntrack \(after.conntrack), leased blocks \(after.leases); \(driver.held) leases taken, \(driver.released) given back (\(driver.ahead) asked ahead, \(driver.exhausted) when none was free), \(world.core.flowState.expired) entries expired
      """)
  }

  func runCollisions(_ paths: NSDBPaths, leasing: Bool, _ logger: Logger) async throws {
    let hosts = [ID(name: "Host/flowstate-a"), ID(name: "Host/flowstate-b")]
    var worlds = hosts.map { FlowStateWorld(host: $0, leasing: leasing, outsideLocal: true) }
    var drivers: [LeaseDriver] = []
    var clients: [ZooKeeperClient] = []
    for host in hosts {
      let client = try await ZooKeeperClient.connect(to: connectString, logger: logger)
      clients.append(client)
      drivers.append(
        LeaseDriver(leases: NATLeases(client: client, paths: paths, logger: logger), host: host))
    }
    defer { for client in clients { Task { await client.close() } } }
    // Each host opens its connections; its flow state goes to the other, as replication
    // would carry it.
    var ports: [[UInt16]] = [[], []]
    var copies: [[StateChange]] = [[], []]
    for side in 0..<2 {
      for index in 0..<connections {
        let (address, port) = FlowStateWorld.client(index, base: 0x0A01_0000 + UInt32(side) << 16)
        let at = worlds[side].at(1 + Double(index) / 1000)
        let packet = FlowStateWorld.outbound(address, port, .syn)
        let out = try await drivers[side].drive(
          worlds[side].core.miss(packet.0, frame: packet.1, now: at), &worlds[side].core, now: at)
        if let nat = out.installedPort { ports[side].append(nat) }
        for case .replicate(let copy) in out { copies[side] += copy.changes }
      }
    }
    let at = worlds[0].at(100)
    worlds[1].core.applyFlowState(copies[0], now: at)
    worlds[0].core.applyFlowState(copies[1], now: at)
    // Every reply, simulated on each host (either may serve the uplink): does it reach
    // its own VM?
    var misdelivered = 0
    for side in 0..<2 {
      for (index, nat) in ports[side].enumerated() {
        let (address, port) = FlowStateWorld.client(index, base: 0x0A01_0000 + UInt32(side) << 16)
        let reply = FlowStateWorld.inbound(nat, [.syn, .ack])
        for host in 0..<2 {
          var actions: [DatapathAction] = []
          for case .install(let entry) in worlds[host].core.miss(reply.0, frame: reply.1, now: at) {
            actions = entry.actions
            break
          }
          if !actions.contains(DatapathAction.setIPv4Destination(address))
            || !actions.contains(DatapathAction.setTransportDestination(port))
          {
            misdelivered += 1
          }
        }
      }
    }
    let shared = Set(ports[0]).intersection(ports[1]).count
    print(
      "collisions (\(leasing ? "leased blocks" : "no leasing")): 2 hosts × \(connections) connections to \(FlowStateWorld.server):80 through \(FlowStateWorld.masquerade): \(ports[0].count) + \(ports[1].count) bound, \(shared) ports used by both hosts, \(misdelivered) replies (each simulated on both hosts) reached another VM or none\(leasing ? "; \(drivers[0].held) + \(drivers[1].held) blocks leased" : "")"
    )
  }

  func runRefresh() {
    var world = FlowStateWorld(leasing: false, outsideLocal: false)
    var tags: [FlowTagHash] = []
    for index in 0..<connections {
      let (address, port) = FlowStateWorld.client(index)
      let packet = FlowStateWorld.outbound(address, port, .syn)
      tags += world.core.miss(packet.0, frame: packet.1, now: world.at(0)).installedTags
    }
    let live = world.core.flowState.entries.count
    let interval = world.core.flowState.timeouts.sweepInterval.seconds
    let refreshEvery = min(
      world.core.flowState.timeouts.tcpEstablished / 2, world.core.flowState.timeouts.refreshCap
    ).seconds
    let span = 10 * refreshEvery
    var bytes = 0
    var messages = 0
    for step in stride(from: interval, through: span, by: interval) {
      for case .replicate(let copy) in world.core.sweepFlowState(
        usedTags: tags, now: world.at(step))
      {
        let size = FlowStateMessage.encode(copy.changes).count
        bytes += size * copy.recipients.count
        messages += copy.recipients.count
      }
    }
    print(
      "refresh: \(connections) open TCP connections through SNAT (\(live) entries), flows in use: \(messages) messages, \(bytes) bytes to the peer in \(Int(span)) s → \(String(format: "%.0f", Double(bytes) / span)) B/s per \(connections) connections (refreshed every \(Int(refreshEvery)) s)"
    )
  }
}

extension [AgentDirective] {
  /// The source port the first installed flow translates to.
  var installedPort: UInt16? {
    for case .install(let entry) in self {
      for case .setTransportSource(let port) in entry.actions { return port }
    }
    return nil
  }
}
