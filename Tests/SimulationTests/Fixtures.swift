import Addresses
import Packets
import Simulation
import Topology

// Builders for the scenario tests: addresses, frames and small topologies.

func ip(_ text: String) -> IPv4Address { IPv4Address(text)! }
func mac(_ text: String) -> MACAddress { MACAddress(text)! }
func prefix(_ text: String) -> IPv4Prefix { IPv4Prefix(text)! }

let vm1MAC = "02:00:00:00:00:01"
let vm2MAC = "02:00:00:00:00:02"

let localHost = ID(name: "host-local")
let remoteHost = ID(name: "host-remote")

/// Frames for tests.
enum Frame {
  static func udp(
    from srcMAC: String, to dstMAC: String, _ srcIP: String, _ dstIP: String,
    sport: UInt16 = 40_000, dport: UInt16 = 53, ttl: UInt8 = 64, vlan: UInt16? = nil
  ) -> SimulationPacket {
    let frame = try! PacketBuilder.udp(
      ethernet: EthernetHeader(
        destination: mac(dstMAC), source: mac(srcMAC), vlan: vlan.map { VLANTag(id: $0) }),
      ipv4: IPv4Header(source: ip(srcIP), destination: ip(dstIP), ttl: ttl),
      sourcePort: sport, destinationPort: dport, payload: [1, 2, 3, 4])
    return try! SimulationPacket(frame: frame)
  }

  static func tcp(
    from srcMAC: String, to dstMAC: String, _ srcIP: String, _ dstIP: String,
    sport: UInt16 = 40_000, dport: UInt16 = 22, flags: TCPFlags = .syn, ttl: UInt8 = 64
  ) -> SimulationPacket {
    let frame = try! PacketBuilder.tcp(
      ethernet: EthernetHeader(destination: mac(dstMAC), source: mac(srcMAC)),
      ipv4: IPv4Header(source: ip(srcIP), destination: ip(dstIP), ttl: ttl),
      tcp: TCPHeader(
        sourcePort: sport, destinationPort: dport, sequenceNumber: 1000, flags: flags))
    return try! SimulationPacket(frame: frame)
  }

  static func icmp(
    from srcMAC: String, to dstMAC: String, _ srcIP: String, _ dstIP: String,
    type: ICMPType = .echoRequest, id: UInt16 = 7, ttl: UInt8 = 64
  ) -> SimulationPacket {
    let header =
      type.isEcho
      ? ICMPHeader.echo(type, identifier: id, sequenceNumber: 1)
      : ICMPHeader(type: type, code: 0)
    let frame = try! PacketBuilder.icmp(
      ethernet: EthernetHeader(destination: mac(dstMAC), source: mac(srcMAC)),
      ipv4: IPv4Header(source: ip(srcIP), destination: ip(dstIP), ttl: ttl), icmp: header,
      payload: Array(repeating: 0xAB, count: 28))
    return try! SimulationPacket(frame: frame)
  }

  static func arpRequest(from srcMAC: String, _ srcIP: String, for target: String)
    -> SimulationPacket
  {
    let frame = PacketBuilder.arpRequest(
      senderMAC: mac(srcMAC), senderIP: ip(srcIP), targetIP: ip(target))
    return try! SimulationPacket(frame: frame)
  }

  static func arpReply(from srcMAC: String, _ srcIP: String, to dstMAC: String, _ dstIP: String)
    -> SimulationPacket
  {
    let frame = PacketBuilder.arpReply(
      senderMAC: mac(srcMAC), senderIP: ip(srcIP), targetMAC: mac(dstMAC), targetIP: ip(dstIP))
    return try! SimulationPacket(frame: frame)
  }
}

/// A small topology under construction, with the state tables of its view.
struct Net {
  var topology = TopologySnapshot()
  var active: [ID: PortActivation] = [:]
  var macTable: [MACTableKey: ID] = [:]
  var arpTable: [DeviceIPKey: MACAddress] = [:]
  private var nextKey: UInt32 = 100

  @discardableResult
  mutating func bridge(_ name: String, inbound: ID? = nil, outbound: ID? = nil) -> ID {
    let id = ID(name: name)
    topology.insert(
      Bridge(id: id, name: name, inboundFilterId: inbound, outboundFilterId: outbound))
    return id
  }

  @discardableResult
  mutating func router(
    _ name: String, inbound: ID? = nil, outbound: ID? = nil, forward: ID? = nil
  ) -> ID {
    let id = ID(name: name)
    topology.insert(
      Router(
        id: id, name: name, inboundFilterId: inbound, outboundFilterId: outbound,
        forwardFilterId: forward))
    return id
  }

  /// An exterior bridge port bound on `host` and active there.
  @discardableResult
  mutating func vmPort(
    _ name: String, on bridge: ID, host: ID = localHost, inbound: ID? = nil,
    outbound: ID? = nil, vlan: UInt16? = nil, activate: Bool = true
  ) -> ID {
    let id = ID(name: name)
    nextKey += 1
    topology.insert(
      Port(
        id: id, device: .bridge(bridge), tunnelKey: nextKey, inboundFilterId: inbound,
        outboundFilterId: outbound, vlanId: vlan, hostId: host, interfaceName: name))
    if activate { active[id] = PortActivation(host: host, tunnelKey: nextKey) }
    return id
  }

  /// A router port; exterior (bound on the local host, active) when `exterior`.
  @discardableResult
  mutating func routerPort(
    _ name: String, on router: ID, address: String, subnet: String, mac: String,
    exterior: Bool = false, activate: Bool = true
  ) -> ID {
    let id = ID(name: name)
    nextKey += 1
    topology.insert(
      Port(
        id: id, device: .router(router), tunnelKey: nextKey,
        hostId: exterior ? localHost : nil, interfaceName: exterior ? name : nil,
        portAddress: ip(address), portSubnet: prefix(subnet), portMAC: MACAddress(mac)))
    if exterior && activate { active[id] = PortActivation(host: localHost, tunnelKey: nextKey) }
    return id
  }

  /// An interior port on `device` (no peer yet).
  @discardableResult
  mutating func interiorPort(_ name: String, on device: DeviceRef) -> ID {
    let id = ID(name: name)
    topology.insert(Port(id: id, device: device))
    return id
  }

  /// Links two ports as peers.
  mutating func link(_ a: ID, _ b: ID) {
    topology.ports[a]?.peerId = b
    topology.ports[b]?.peerId = a
  }

  /// A router port patched to a new port of `bridge`, with the connected route.
  @discardableResult
  mutating func attach(
    router: ID, to bridge: ID, name: String, address: String, subnet: String, mac: String
  ) -> (routerPort: ID, bridgePort: ID) {
    let routerPort = self.routerPort(
      name + "-rp", on: router, address: address, subnet: subnet, mac: mac)
    let bridgePort = interiorPort(name + "-bp", on: .bridge(bridge))
    link(routerPort, bridgePort)
    route(name + "-connected", on: router, to: subnet, via: routerPort)
    return (routerPort, bridgePort)
  }

  @discardableResult
  mutating func route(
    _ name: String, on router: ID, to destination: String, from source: String = "0.0.0.0/0",
    via port: ID? = nil, gateway: String? = nil, weight: UInt32 = 100,
    nextHop: Route.NextHop = .port
  ) -> ID {
    let id = ID(name: name)
    topology.insert(
      Route(
        id: id, routerId: router, srcPrefix: prefix(source), dstPrefix: prefix(destination),
        nextHop: nextHop, nextHopPortId: port, nextHopGateway: gateway.map(ip), weight: weight))
    topology.routers[router]?.routeIds.append(id)
    return id
  }

  /// A chain of rules, each named `<chain>-<index>`.
  @discardableResult
  mutating func chain(_ name: String, _ rules: [(Condition, RuleAction)]) -> ID {
    let id = ID(name: name)
    var ruleIds: [ID] = []
    for (index, (condition, action)) in rules.enumerated() {
      let ruleId = ID(name: "\(name)-\(index)")
      topology.insert(Rule(id: ruleId, chainId: id, condition: condition, action: action))
      ruleIds.append(ruleId)
    }
    topology.insert(Chain(id: id, name: name, ruleIds: ruleIds))
    return id
  }

  mutating func learn(_ bridge: ID, _ macText: String, on port: ID, vlan: UInt16 = 0) {
    macTable[MACTableKey(bridge: bridge, vlan: vlan, mac: mac(macText))] = port
  }

  mutating func arp(_ router: ID, _ ipText: String, _ macText: String) {
    arpTable[DeviceIPKey(device: router, ip: ip(ipText))] = mac(macText)
  }

  var view: SimulationView {
    SimulationView(topology: topology, macTable: macTable, arpTable: arpTable, activePorts: active)
  }
}

let simulator = Simulator(localHost: localHost)

extension SimulationResult {
  var isForward: Bool { verdict == .forward }

  var dropReason: DropReason? {
    if case .drop(let reason) = verdict { return reason }
    return nil
  }
}
