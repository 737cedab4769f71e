import Topology

/// A small, fully consistent topology that exercises every reference kind:
/// a VM port on a bridge bound to a host, the bridge linked to a router, a
/// route via the router port, filter chains with a JUMP and a DNAT rule, a
/// port group, an address group, a DHCP subnet and a tunnel zone.
enum TopologyFixture {
  static let host = id("host")
  static let zone = id("zone")
  static let bridge = id("bridge")
  static let router = id("router")
  static let vmPort = id("vm-port")
  static let bridgeUplink = id("bridge-uplink")
  static let routerDown = id("router-down")
  static let route = id("route")
  static let chainIn = id("chain-in")
  static let chainOut = id("chain-out")
  static let chainFwd = id("chain-fwd")
  static let jumpRule = id("jump-rule")
  static let natRule = id("nat-rule")
  static let portGroup = id("port-group")
  static let addrGroup = id("addr-group")
  static let dhcp = id("dhcp")
  /// An id that names nothing in the fixture.
  static let nowhere = id("nowhere")

  static func make() -> TopologySnapshot {
    var topology = TopologySnapshot()
    topology.insert(Host(id: host, name: "hv1", portIds: [vmPort], tunnelZoneIds: [zone]))
    topology.insert(
      TunnelZone(
        id: zone, name: "default",
        members: [host: TunnelZone.Endpoint(address: ip("203.0.113.1"), port: 6_677)]))
    topology.insert(
      Bridge(
        id: bridge, name: "front", inboundFilterId: chainIn, outboundFilterId: chainOut,
        portIds: [vmPort, bridgeUplink], dhcpIds: [dhcp]))
    topology.insert(
      Router(
        id: router, name: "edge", inboundFilterId: chainIn, outboundFilterId: chainOut,
        forwardFilterId: chainFwd, portIds: [routerDown], routeIds: [route]))
    topology.insert(
      Port(
        id: vmPort, device: .bridge(bridge), tunnelKey: 1, inboundFilterId: chainIn,
        outboundFilterId: chainOut, portGroupIds: [portGroup], hostId: host,
        interfaceName: "veth0"))
    topology.insert(
      Port(id: bridgeUplink, device: .bridge(bridge), tunnelKey: 2, peerId: routerDown))
    topology.insert(
      Port(
        id: routerDown, device: .router(router), tunnelKey: 3, routeIds: [route],
        peerId: bridgeUplink, portAddress: ip("10.0.0.1"), portSubnet: prefix("10.0.0.0/24"),
        portMAC: mac("02:00:00:00:01:01")))
    topology.insert(
      Route(
        id: route, routerId: router, dstPrefix: prefix("10.0.0.0/24"), nextHop: .port,
        nextHopPortId: routerDown))
    topology.insert(Chain(id: chainIn, name: "in", ruleIds: [jumpRule, natRule]))
    topology.insert(Chain(id: chainOut, name: "out"))
    topology.insert(Chain(id: chainFwd, name: "fwd"))
    topology.insert(
      Rule(
        id: jumpRule, chainId: chainIn,
        condition: Condition(
          inPortIds: [vmPort], outPortIds: [routerDown], portGroupId: portGroup,
          ipAddrGroupIdSrc: addrGroup, ipAddrGroupIdDst: addrGroup),
        action: .jump(chainId: chainFwd)))
    topology.insert(
      Rule(
        id: natRule, chainId: chainIn, condition: Condition(nwDst: prefix("203.0.113.10/32")),
        action: .dnat(targets: [NatTarget(address: ip("10.0.0.5"))])))
    topology.insert(PortGroup(id: portGroup, name: "vms", portIds: [vmPort]))
    topology.insert(IPAddrGroup(id: addrGroup, name: "web", addresses: [ip("10.0.0.5")]))
    topology.insert(
      Dhcp(
        id: dhcp, bridgeId: bridge, subnet: prefix("10.0.0.0/24"), gateway: ip("10.0.0.1"),
        dnsServers: [ip("10.0.0.2")],
        hosts: [DhcpHost(mac: mac("02:00:00:00:00:05"), ip: ip("10.0.0.5"), name: "web1")]))
    return topology
  }
}
