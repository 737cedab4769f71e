import Addresses
import SwiftProtobuf
import Testing

@testable import Topology

@Suite("Protobuf wire format")
struct WireCodecTests {
  static let bridgeID = ID(name: "bridge-a")
  static let routerID = ID(name: "router-a")
  static let chainID = ID(name: "chain-a")

  func roundTrip<T: WireCodable>(_ value: T) throws {
    let bytes = try value.wireBytes()
    let decoded = try T(wireBytes: bytes)
    #expect(decoded == value)
  }

  @Test("every model type round-trips with every field set")
  func everyType() throws {
    let host = ID(name: "host-1")
    try roundTrip(
      Host(id: host, name: "host-1", portIds: [ID(name: "p1")], tunnelZoneIds: [ID(name: "tz")]))
    try roundTrip(
      TunnelZone(
        id: ID(name: "tz"), name: "tz",
        members: [host: .init(address: IPv4Address(127, 0, 0, 1), port: 6677)]))
    try roundTrip(
      Bridge(
        id: Self.bridgeID, name: "b", adminStateUp: false, inboundFilterId: Self.chainID,
        outboundFilterId: ID(name: "c2"), portIds: [ID(name: "p1"), ID(name: "p2")],
        dhcpIds: [ID(name: "d")], vni: 77))
    try roundTrip(Bridge(id: Self.bridgeID, name: ""))
    try roundTrip(
      Router(
        id: Self.routerID, name: "r", inboundFilterId: Self.chainID, forwardFilterId: Self.chainID,
        portIds: [ID(name: "rp")], routeIds: [ID(name: "rt")]))
    try roundTrip(
      Port(
        id: ID(name: "rp"), device: .router(Self.routerID), adminStateUp: true, tunnelKey: 9,
        inboundFilterId: Self.chainID, portGroupIds: [ID(name: "pg")], routeIds: [ID(name: "rt")],
        vlanId: 12, hostId: host, interfaceName: "veth0", portAddress: IPv4Address(10, 0, 0, 1),
        portSubnet: IPv4Prefix(IPv4Address(10, 0, 0, 0), length: 24),
        portMAC: MACAddress(rawValue: 0x02_00_00_00_00_01), name: "router-port"))
    try roundTrip(Port(id: ID(name: "p2"), device: .bridge(Self.bridgeID), peerId: ID(name: "rp")))
    for hop in Route.NextHop.allCases {
      try roundTrip(
        Route(
          id: ID(name: "rt"), routerId: Self.routerID,
          srcPrefix: IPv4Prefix(IPv4Address(10, 1, 0, 0), length: 16),
          dstPrefix: IPv4Prefix(IPv4Address(0, 0, 0, 0), length: 0), nextHop: hop,
          nextHopPortId: ID(name: "rp"), nextHopGateway: IPv4Address(10, 0, 0, 254), weight: 7,
          learned: true))
    }
    try roundTrip(Chain(id: Self.chainID, name: "c", ruleIds: (0..<5).map { ID(name: "r\($0)") }))
    try roundTrip(
      PortGroup(id: ID(name: "pg"), name: "pg", stateful: true, portIds: [ID(name: "p1")]))
    try roundTrip(IPAddrGroup(id: ID(name: "ag"), name: "ag", addresses: [IPv4Address(1, 2, 3, 4)]))
    try roundTrip(
      Dhcp(
        id: ID(name: "d"), bridgeId: Self.bridgeID,
        subnet: IPv4Prefix(IPv4Address(10, 0, 0, 0), length: 24),
        gateway: IPv4Address(10, 0, 0, 1), dnsServers: [IPv4Address(10, 0, 0, 2)],
        hosts: [
          DhcpHost(
            mac: MACAddress(rawValue: 0x02_00_00_00_00_05), ip: IPv4Address(10, 0, 0, 5), name: "vm"
          )
        ]))
  }

  @Test("every rule action and condition field round-trips")
  func rules() throws {
    let target = NatTarget(
      addressFrom: IPv4Address(1, 1, 1, 1), addressTo: IPv4Address(1, 1, 1, 9), portFrom: 1000,
      portTo: 2000)
    let actions: [RuleAction] = [
      .accept, .drop, .reject, .jump(chainId: Self.chainID), .return, .continue,
      .dnat(targets: [target]), .snat(targets: [target, target]), .reverseDNAT, .reverseSNAT,
    ]
    let condition = Condition(
      inPortIds: [ID(name: "p1")], invInPorts: true, outPortIds: [ID(name: "p2")],
      invOutPorts: true, portGroupId: ID(name: "pg"), invPortGroup: true,
      dlSrc: MACAddress(rawValue: 0x02_00_00_00_00_01),
      dlSrcMask: MACAddress(rawValue: 0xFF_FF_FF_00_00_00),
      invDlSrc: true, dlDst: MACAddress(rawValue: 0x02_00_00_00_00_02), invDlDst: true,
      dlType: 0x0800,
      invDlType: true, nwSrc: IPv4Prefix(IPv4Address(10, 0, 0, 0), length: 8), invNwSrc: true,
      nwDst: IPv4Prefix(IPv4Address(10, 1, 0, 0), length: 16), invNwDst: true, nwProto: 6,
      invNwProto: true, nwTos: 4, invNwTos: true, tpSrc: 1...1024, invTpSrc: true,
      tpDst: 80...80, invTpDst: true, ipAddrGroupIdSrc: ID(name: "ag"), invIpAddrGroupIdSrc: true,
      ipAddrGroupIdDst: ID(name: "ag2"), invIpAddrGroupIdDst: true, matchForwardFlow: true,
      matchReturnFlow: false, fragmentPolicy: .header)
    for action in actions {
      try roundTrip(
        Rule(id: ID(name: "rule"), chainId: Self.chainID, condition: condition, action: action))
    }
    for policy in FragmentPolicy.allCases {
      var any = Condition.any
      any.fragmentPolicy = policy
      try roundTrip(
        Rule(id: ID(name: "rule"), chainId: Self.chainID, condition: any, action: .drop))
    }
  }

  @Test("an older reader tolerates fields it does not know")
  func unknownFields() throws {
    var bytes = try Bridge(id: Self.bridgeID, name: "b", vni: 5).wireBytes()
    // Field 99, varint 1: what a newer writer might add.
    bytes += [0x98, 0x06, 0x01]
    // Field 100, length-delimited "hi".
    bytes += [0xA2, 0x06, 0x02, 0x68, 0x69]
    let decoded = try Bridge(wireBytes: bytes)
    #expect(decoded.name == "b")
    #expect(decoded.vni == 5)
  }

  @Test("corrupt bytes and out-of-range values throw, never trap")
  func corrupt() throws {
    #expect(throws: WireError.self) { try Bridge(wireBytes: [0xFF, 0xFF, 0xFF]) }
    #expect(throws: WireError.self) { try Port(wireBytes: []) }
    var route = Midge_Topology_V1_Route()
    route.id = Wire.uuid(ID(name: "x"))
    route.routerID = Wire.uuid(Self.routerID)
    route.dstPrefix.length = 40
    let bytes: [UInt8] = try route.serializedBytes()
    do {
      _ = try Route(wireBytes: bytes)
      Issue.record("a /40 prefix decoded")
    } catch {
      #expect(error.code == .invalidValue)
    }
    var state: UInt64 = 1
    for _ in 0..<2000 {
      state = state &* 6_364_136_223_846_793_005 &+ 1
      let length = Int(state >> 58)
      let garbage = (0..<length).map {
        UInt8(truncatingIfNeeded: (state >> UInt64($0 % 7 * 8)) &+ UInt64($0))
      }
      _ = try? Port(wireBytes: garbage)
      _ = try? Rule(wireBytes: garbage)
      _ = try? TunnelZone(wireBytes: garbage)
    }
  }
}
