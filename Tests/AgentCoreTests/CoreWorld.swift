import Addresses
import AgentCore
import Datapath
import Packets
import Simulation
import Testing
import Topology

/// A small world for the core's tests: one host ("here") with a bridge and two VM ports
/// attached as datapath ports 1 and 2, and a router with two exterior ports attached as
/// datapath ports 3 and 4. Everything is values: no datapath, no ZooKeeper, no root.
struct CoreWorld {
  static let here = ID(name: "host-here")
  static let there = ID(name: "host-there")
  static let bridge = ID(name: "bridge")
  static let vm1 = ID(name: "vm1")
  static let vm2 = ID(name: "vm2")
  static let router = ID(name: "router")
  static let left = ID(name: "router-left")
  static let right = ID(name: "router-right")
  static let vm1MAC = MACAddress(2, 0, 0, 0, 0, 1)
  static let vm2MAC = MACAddress(2, 0, 0, 0, 0, 2)
  static let leftMAC = MACAddress(2, 0, 0, 0, 1, 1)
  static let rightMAC = MACAddress(2, 0, 0, 0, 2, 1)
  static let remoteMAC = MACAddress(2, 0, 0, 0, 2, 9)
  static let thereEndpoint = TunnelEndpoint(address: IPv4Address(127, 0, 0, 2), port: 6677)

  let t0 = ContinuousClock.now
  var core: AgentCore

  init(pendingTimeout: Duration = .seconds(5)) {
    core = AgentCore(
      hostID: Self.here,
      settings: AgentCore.Settings(flowIdleTimeout: .seconds(30), pendingTimeout: pendingTimeout),
      origin: t0)
    upsert(Bridge(id: Self.bridge, name: "bridge"))
    upsert(vmPort(Self.vm1, key: 1))
    upsert(vmPort(Self.vm2, key: 2))
    upsert(Router(id: Self.router, name: "router"))
    upsert(
      routerPort(Self.left, key: 3, address: "10.0.1.1", subnet: "10.0.1.0/24", mac: Self.leftMAC))
    upsert(
      routerPort(
        Self.right, key: 4, address: "10.0.2.1", subnet: "10.0.2.0/24", mac: Self.rightMAC))
    upsert(route("left-net", to: "10.0.1.0/24", via: Self.left))
    upsert(route("right-net", to: "10.0.2.0/24", via: Self.right))
    upsert(
      TunnelZone(
        id: ID(name: "zone"), name: "zone",
        members: [Self.there: .init(address: IPv4Address(127, 0, 0, 2), port: 6677)]))
    for (port, number) in [(Self.vm1, 1), (Self.vm2, 2), (Self.left, 3), (Self.right, 4)] {
      _ = core.attach(port, number: UInt32(number))
    }
    _ = core.setAlive(Self.there, true)
  }

  mutating func upsert(_ object: any ModelObject) {
    _ = core.applyTopology(.upsert(object))
  }

  func vmPort(_ id: ID, key: UInt32) -> Port {
    Port(
      id: id, device: .bridge(Self.bridge), tunnelKey: key, hostId: Self.here,
      interfaceName: "\(key)")
  }

  func routerPort(_ id: ID, key: UInt32, address: String, subnet: String, mac: MACAddress)
    -> Port
  {
    Port(
      id: id, device: .router(Self.router), tunnelKey: key, hostId: Self.here,
      interfaceName: "\(key)", portAddress: IPv4Address(address),
      portSubnet: IPv4Prefix(subnet), portMAC: mac)
  }

  func route(_ name: String, to prefix: String, via port: ID) -> Route {
    Route(
      id: ID(name: name), routerId: Self.router, dstPrefix: IPv4Prefix(prefix) ?? .all,
      nextHop: .port, nextHopPortId: port)
  }

  /// Seconds after the world's start.
  func at(_ seconds: Double) -> ContinuousClock.Instant {
    t0 + .milliseconds(Int(seconds * 1000))
  }

  /// A UDP frame entering datapath port `port`.
  static func udp(
    port: UInt32, from srcMAC: MACAddress, to dstMAC: MACAddress, _ srcIP: String,
    _ dstIP: String
  ) throws -> (FlowMatch, [UInt8]) {
    let frame = try PacketBuilder.udp(
      ethernet: EthernetHeader(destination: dstMAC, source: srcMAC),
      ipv4: IPv4Header(
        source: try #require(IPv4Address(srcIP)), destination: try #require(IPv4Address(dstIP))),
      sourcePort: 40_000, destinationPort: 53, payload: [1, 2, 3, 4])
    return (try FlowMatch(frame: frame, ingressPort: port), frame)
  }

  /// An ARP reply entering datapath port `port`.
  static func arpReply(
    port: UInt32, from srcMAC: MACAddress, _ srcIP: String, to dstMAC: MACAddress,
    _ dstIP: String
  ) throws -> (FlowMatch, [UInt8]) {
    let frame = PacketBuilder.arpReply(
      senderMAC: srcMAC, senderIP: try #require(IPv4Address(srcIP)), targetMAC: dstMAC,
      targetIP: try #require(IPv4Address(dstIP)))
    return (try FlowMatch(frame: frame, ingressPort: port), frame)
  }
}

extension [AgentDirective] {
  var installs: [FlowEntry] {
    compactMap { if case .install(let entry) = $0 { return entry } else { return nil } }
  }
  var completions: [(FlowMatch, [DatapathAction])] {
    compactMap {
      if case .complete(let match, let actions) = $0 {
        return (match, actions)
      } else {
        return nil
      }
    }
  }
  var sends: [([UInt8], [DatapathAction])] {
    compactMap {
      if case .send(let frame, let actions) = $0 { return (frame, actions) } else { return nil }
    }
  }
  var invalidated: [FlowTagHash] {
    flatMap { if case .invalidate(let tags) = $0 { return tags } else { return [] } }
  }
  var loads: [ObjectRef] {
    compactMap { if case .load(let ref) = $0 { return ref } else { return nil } }
  }
  var macWrites: [(ID, MACAddress, ID)] {
    compactMap {
      if case .writeMAC(let bridge, let mac, let port) = $0 { return (bridge, mac, port) }
      return nil
    }
  }
  var macForgets: [(ID, MACAddress, ID)] {
    compactMap {
      if case .forgetMAC(let bridge, let mac, let port) = $0 { return (bridge, mac, port) }
      return nil
    }
  }
  var arpWrites: [(ID, IPv4Address, MACAddress)] {
    compactMap {
      if case .writeARP(let router, let ip, let mac) = $0 { return (router, ip, mac) }
      return nil
    }
  }
  var copies: [FlowStateCopy] {
    compactMap { if case .replicate(let copy) = $0 { return copy } else { return nil } }
  }
  var counts: [AgentCount] {
    compactMap { if case .count(let count) = $0 { return count } else { return nil } }
  }
}
