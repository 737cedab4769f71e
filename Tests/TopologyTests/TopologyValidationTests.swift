import Testing
import Topology

private typealias F = TopologyFixture

/// One way to break the fixture and the problem it must produce.
struct Breakage: Sendable, CustomTestStringConvertible {
  let name: String
  let code: TopologyError.Code
  let type: ModelType
  let object: ID
  let field: String
  let apply: @Sendable (inout TopologySnapshot) -> Void

  var testDescription: String { name }

  /// Every reference field, pointed at an id that names nothing.
  static let dangling: [Breakage] = [
    make("Host.portIds", .host, F.host, "portIds") { $0.hosts[F.host]!.portIds.append(F.nowhere) },
    make("Host.tunnelZoneIds", .host, F.host, "tunnelZoneIds") {
      $0.hosts[F.host]!.tunnelZoneIds.append(F.nowhere)
    },
    make("TunnelZone.hostIds", .tunnelZone, F.zone, "hostIds") {
      $0.tunnelZones[F.zone]!.hostIds.append(F.nowhere)
    },
    make("TunnelZone.members", .tunnelZone, F.zone, "members") {
      $0.tunnelZones[F.zone]!.members[F.nowhere] = .init(address: ip("203.0.113.9"), port: 1)
    },
    make("Bridge.inboundFilterId", .bridge, F.bridge, "inboundFilterId") {
      $0.bridges[F.bridge]!.inboundFilterId = F.nowhere
    },
    make("Bridge.outboundFilterId", .bridge, F.bridge, "outboundFilterId") {
      $0.bridges[F.bridge]!.outboundFilterId = F.nowhere
    },
    make("Bridge.portIds", .bridge, F.bridge, "portIds") {
      $0.bridges[F.bridge]!.portIds.append(F.nowhere)
    },
    make("Bridge.dhcpIds", .bridge, F.bridge, "dhcpIds") {
      $0.bridges[F.bridge]!.dhcpIds.append(F.nowhere)
    },
    make("Router.inboundFilterId", .router, F.router, "inboundFilterId") {
      $0.routers[F.router]!.inboundFilterId = F.nowhere
    },
    make("Router.outboundFilterId", .router, F.router, "outboundFilterId") {
      $0.routers[F.router]!.outboundFilterId = F.nowhere
    },
    make("Router.forwardFilterId", .router, F.router, "forwardFilterId") {
      $0.routers[F.router]!.forwardFilterId = F.nowhere
    },
    make("Router.portIds", .router, F.router, "portIds") {
      $0.routers[F.router]!.portIds.append(F.nowhere)
    },
    make("Router.routeIds", .router, F.router, "routeIds") {
      $0.routers[F.router]!.routeIds.append(F.nowhere)
    },
    make("Port.device (bridge)", .port, F.vmPort, "device") {
      $0.ports[F.vmPort]!.device = .bridge(F.nowhere)
    },
    make("Port.device (router)", .port, F.routerDown, "device") {
      $0.ports[F.routerDown]!.device = .router(F.nowhere)
    },
    make("Port.hostId", .port, F.vmPort, "hostId") { $0.ports[F.vmPort]!.hostId = F.nowhere },
    make("Port.peerId", .port, F.bridgeUplink, "peerId") {
      $0.ports[F.bridgeUplink]!.peerId = F.nowhere
    },
    make("Port.inboundFilterId", .port, F.vmPort, "inboundFilterId") {
      $0.ports[F.vmPort]!.inboundFilterId = F.nowhere
    },
    make("Port.outboundFilterId", .port, F.vmPort, "outboundFilterId") {
      $0.ports[F.vmPort]!.outboundFilterId = F.nowhere
    },
    make("Port.portGroupIds", .port, F.vmPort, "portGroupIds") {
      $0.ports[F.vmPort]!.portGroupIds.append(F.nowhere)
    },
    make("Port.routeIds", .port, F.routerDown, "routeIds") {
      $0.ports[F.routerDown]!.routeIds.append(F.nowhere)
    },
    make("Route.routerId", .route, F.route, "routerId") {
      $0.routes[F.route]!.routerId = F.nowhere
    },
    make("Route.nextHopPortId", .route, F.route, "nextHopPortId") {
      $0.routes[F.route]!.nextHopPortId = F.nowhere
    },
    make("Chain.ruleIds", .chain, F.chainOut, "ruleIds") {
      $0.chains[F.chainOut]!.ruleIds.append(F.nowhere)
    },
    make("Rule.chainId", .rule, F.natRule, "chainId") { $0.rules[F.natRule]!.chainId = F.nowhere },
    make("Rule.action jump", .rule, F.jumpRule, "action") {
      $0.rules[F.jumpRule]!.action = .jump(chainId: F.nowhere)
    },
    make("Rule.condition.inPortIds", .rule, F.jumpRule, "condition.inPortIds") {
      $0.rules[F.jumpRule]!.condition.inPortIds.append(F.nowhere)
    },
    make("Rule.condition.outPortIds", .rule, F.jumpRule, "condition.outPortIds") {
      $0.rules[F.jumpRule]!.condition.outPortIds.append(F.nowhere)
    },
    make("Rule.condition.portGroupId", .rule, F.jumpRule, "condition.portGroupId") {
      $0.rules[F.jumpRule]!.condition.portGroupId = F.nowhere
    },
    make("Rule.condition.ipAddrGroupIdSrc", .rule, F.jumpRule, "condition.ipAddrGroupIdSrc") {
      $0.rules[F.jumpRule]!.condition.ipAddrGroupIdSrc = F.nowhere
    },
    make("Rule.condition.ipAddrGroupIdDst", .rule, F.jumpRule, "condition.ipAddrGroupIdDst") {
      $0.rules[F.jumpRule]!.condition.ipAddrGroupIdDst = F.nowhere
    },
    make("PortGroup.portIds", .portGroup, F.portGroup, "portIds") {
      $0.portGroups[F.portGroup]!.portIds.append(F.nowhere)
    },
    make("Dhcp.bridgeId", .dhcp, F.dhcp, "bridgeId") { $0.dhcps[F.dhcp]!.bridgeId = F.nowhere },
  ].map { $0.with(code: .danglingReference) }

  /// One side of a binding changed, the other not.
  static let oneSided: [Breakage] = [
    make("Port on bridge not listed by it", .port, F.vmPort, "device") {
      $0.bridges[F.bridge]!.portIds.removeAll { $0 == F.vmPort }
    },
    make("Bridge lists a router's port", .bridge, F.bridge, "portIds") {
      $0.bridges[F.bridge]!.portIds.append(F.routerDown)
    },
    make("Port on router not listed by it", .port, F.routerDown, "device") {
      $0.routers[F.router]!.portIds = []
    },
    make("Host forgets its port", .port, F.vmPort, "hostId") { $0.hosts[F.host]!.portIds = [] },
    make("Host lists an unbound port", .host, F.host, "portIds") {
      $0.hosts[F.host]!.portIds.append(F.bridgeUplink)
    },
    make("Peer points elsewhere", .port, F.bridgeUplink, "peerId") {
      $0.ports[F.routerDown]!.peerId = nil
    },
    make("Group forgets its port", .port, F.vmPort, "portGroupIds") {
      $0.portGroups[F.portGroup]!.portIds = []
    },
    make("Group lists a non-member", .portGroup, F.portGroup, "portIds") {
      $0.portGroups[F.portGroup]!.portIds.append(F.bridgeUplink)
    },
    make("Router forgets its route", .route, F.route, "routerId") {
      $0.routers[F.router]!.routeIds = []
    },
    make("Port forgets a route via it", .route, F.route, "nextHopPortId") {
      $0.ports[F.routerDown]!.routeIds = []
    },
    make("Route no longer via the port", .port, F.routerDown, "routeIds") {
      $0.routes[F.route]!.nextHopPortId = nil
      $0.routes[F.route]!.nextHop = .blackhole
    },
    make("Chain forgets its rule", .rule, F.natRule, "chainId") {
      $0.chains[F.chainIn]!.ruleIds = [F.jumpRule]
    },
    make("Chain lists another chain's rule", .chain, F.chainOut, "ruleIds") {
      $0.chains[F.chainOut]!.ruleIds = [F.natRule]
    },
    make("Bridge forgets its DHCP subnet", .dhcp, F.dhcp, "bridgeId") {
      $0.bridges[F.bridge]!.dhcpIds = []
    },
    make("Host leaves zone one-sidedly", .tunnelZone, F.zone, "hostIds") {
      $0.hosts[F.host]!.tunnelZoneIds = []
    },
    make("Zone drops host one-sidedly", .host, F.host, "tunnelZoneIds") {
      $0.tunnelZones[F.zone]!.hostIds = []
      $0.tunnelZones[F.zone]!.members = [:]
    },
  ].map { $0.with(code: .missingBackReference) }

  /// Fields that disagree with the rest of their object.
  static let invalid: [Breakage] = [
    make("Router port without address", .port, F.routerDown, "portAddress") {
      $0.ports[F.routerDown]!.portAddress = nil
    },
    make("Router port without subnet", .port, F.routerDown, "portSubnet") {
      $0.ports[F.routerDown]!.portSubnet = nil
    },
    make("Router port without MAC", .port, F.routerDown, "portMAC") {
      $0.ports[F.routerDown]!.portMAC = nil
    },
    make("Router port address outside subnet", .port, F.routerDown, "portAddress") {
      $0.ports[F.routerDown]!.portAddress = ip("10.0.1.1")
    },
    make("Host without interface name", .port, F.vmPort, "interfaceName") {
      $0.ports[F.vmPort]!.interfaceName = nil
    },
    make("Exterior and interior at once", .port, F.bridgeUplink, "peerId") {
      $0.ports[F.bridgeUplink]!.hostId = F.host
      $0.ports[F.bridgeUplink]!.interfaceName = "veth9"
      $0.hosts[F.host]!.portIds.append(F.bridgeUplink)
    },
    make("Port linked to itself", .port, F.vmPort, "peerId") {
      $0.ports[F.vmPort]!.peerId = F.vmPort
    },
    make("Route to .port without port", .route, F.route, "nextHopPortId") {
      $0.routes[F.route]!.nextHopPortId = nil
      $0.ports[F.routerDown]!.routeIds = []
    },
    make("Route via another device's port", .route, F.route, "nextHopPortId") {
      $0.routes[F.route]!.nextHopPortId = F.vmPort
      $0.ports[F.routerDown]!.routeIds = []
      $0.ports[F.vmPort]!.routeIds = [F.route]
    },
    make("Forward and return flow", .rule, F.jumpRule, "condition.matchReturnFlow") {
      $0.rules[F.jumpRule]!.condition.matchForwardFlow = true
      $0.rules[F.jumpRule]!.condition.matchReturnFlow = true
    },
    make("NAT without targets", .rule, F.natRule, "action") {
      $0.rules[F.natRule]!.action = .snat(targets: [])
    },
    make("NAT target range reversed", .rule, F.natRule, "action") {
      $0.rules[F.natRule]!.action = .dnat(targets: [
        NatTarget(addressFrom: ip("10.0.0.9"), addressTo: ip("10.0.0.1"), portFrom: 0, portTo: 0)
      ])
    },
    make("Zone members disagree with hostIds", .tunnelZone, F.zone, "members") {
      $0.tunnelZones[F.zone]!.members = [:]
    },
  ].map { $0.with(code: .invalidField) }

  static func make(
    _ name: String, _ type: ModelType, _ object: ID, _ field: String,
    _ apply: @escaping @Sendable (inout TopologySnapshot) -> Void
  ) -> Breakage {
    Breakage(
      name: name, code: .danglingReference, type: type, object: object, field: field,
      apply: apply)
  }

  func with(code: TopologyError.Code) -> Breakage {
    Breakage(name: name, code: code, type: type, object: object, field: field, apply: apply)
  }
}

@Suite struct TopologyValidationTests {
  @Test func fixtureIsValid() {
    let errors = F.make().validate()
    #expect(errors.isEmpty, "\(errors)")
    #expect(TopologySnapshot().validate().isEmpty)
  }

  @Test(arguments: Breakage.dangling + Breakage.oneSided + Breakage.invalid)
  func reports(_ breakage: Breakage) {
    var topology = F.make()
    breakage.apply(&topology)
    let errors = topology.validate()
    let found = errors.first {
      $0.code == breakage.code && $0.objectType == breakage.type
        && $0.objectId == breakage.object && $0.field == breakage.field
    }
    #expect(found != nil, "expected \(breakage.code) on \(breakage.field), got \(errors)")
    if let found {
      #expect(found.message.contains(breakage.type.rawValue))
      #expect(found.message.contains(breakage.object.description))
      #expect(found.message.contains(breakage.field))
      if breakage.code == .danglingReference {
        #expect(found.message.contains(F.nowhere.description))
      }
    }
  }

  @Test func removingAnObjectReportsEveryReferrer() {
    var topology = F.make()
    topology.remove(Port.self, id: F.vmPort)
    let errors = topology.validate()
    #expect(errors.allSatisfy { $0.code == .danglingReference })
    let places = Set(errors.map { "\($0.objectType.rawValue).\($0.field)" })
    #expect(
      places == [
        "Host.portIds", "Bridge.portIds", "Rule.condition.inPortIds", "PortGroup.portIds",
      ])
  }

  @Test func duplicateTunnelKey() {
    var topology = F.make()
    topology.ports[F.bridgeUplink]!.tunnelKey = 1
    let errors = topology.validate()
    #expect(errors.count == 1)
    #expect(errors.first?.code == .duplicateTunnelKey)
    #expect(errors.first?.field == "tunnelKey")
    // Unassigned keys (0) may repeat.
    topology.ports[F.bridgeUplink]!.tunnelKey = 0
    topology.ports[F.vmPort]!.tunnelKey = 0
    #expect(topology.validate().isEmpty)
  }

  @Test func idMismatch() {
    var topology = F.make()
    let other = id("stored-elsewhere")
    topology.ipAddrGroups[other] = IPAddrGroup(id: F.addrGroup, name: "copy")
    let errors = topology.validate()
    #expect(errors.map(\.code) == [.idMismatch])
    #expect(errors.first?.objectId == other)
  }

  @Test func errorsComeOutInADeterministicOrder() {
    var topology = F.make()
    topology.remove(Chain.self, id: F.chainIn)
    topology.remove(Host.self, id: F.host)
    let first = topology.validate()
    #expect(first.count > 5)
    #expect(first == topology.validate())
    let typeOrder = first.map { ModelType.allCases.firstIndex(of: $0.objectType)! }
    #expect(typeOrder == typeOrder.sorted())
  }
}
