import Addresses
import MidgeTestSupport
import Testing
import Topology
import ZooKeeper

@testable import NSDB

/// The delete directions of ``Binding/standard`` that BindingTests does not
/// cover: each test deletes one side and checks what is left on both.
@Suite("NSDB delete policies, remaining directions")
struct DeletePolicyTests {
  let router = ID.named("router")
  let bridge = ID.named("bridge")
  let host = ID.named("host")

  func route(_ name: String, via port: ID) -> Route {
    Route(
      id: .named(name), routerId: router,
      dstPrefix: IPv4Prefix(IPv4Address(10, 0, 0, 0), length: 8), nextHop: .port,
      nextHopPortId: port)
  }

  @Test("deleting a Router CASCADEs to its ports and routes, and their bindings are cleared")
  func routerCascades() async throws {
    let f = try await NSDBFixture.make("del-router")
    let store = f.store
    let ports = [ID.named("rp0"), ID.named("rp1")]
    let bridgePort = ID.named("bp")
    let blackhole = ID.named("blackhole")
    try await store.transaction { tx in
      try await tx.create(Router(id: router, name: "r"))
      try await tx.create(Bridge(id: bridge, name: "b"))
      try await tx.create(Host(id: host, name: "h"))
      try await tx.create(
        Port(id: ports[0], device: .router(router), hostId: host, interfaceName: "uplink"))
      try await tx.create(Port(id: ports[1], device: .router(router)))
      try await tx.create(Port(id: bridgePort, device: .bridge(bridge), peerId: ports[1]))
      try await tx.create(route("r0", via: ports[0]))
      try await tx.create(route("r1", via: ports[1]))
      try await tx.create(
        Route(
          id: blackhole, routerId: router,
          dstPrefix: IPv4Prefix(IPv4Address(192, 168, 0, 0), length: 16), nextHop: .blackhole))
    }
    let before = try await store.get(Router.self, router)
    #expect(before.portIds == ports)
    #expect(Set(before.routeIds) == [.named("r0"), .named("r1"), blackhole])
    #expect(try await store.get(Host.self, host).portIds == [ports[0]])

    try await store.delete(Router.self, router)
    #expect(try await !store.exists(Router.self, router))
    for port in ports { #expect(try await !store.exists(Port.self, port)) }
    for id in [ID.named("r0"), .named("r1"), blackhole] {
      #expect(try await !store.exists(Route.self, id))
    }
    // What the cascaded ports referenced lost them.
    #expect(try await store.get(Host.self, host).portIds.isEmpty)
    #expect(try await store.get(Port.self, bridgePort).peerId == nil)
    #expect(try await store.get(Bridge.self, bridge).portIds == [bridgePort])
    await f.close()
  }

  @Test("deleting a Route CLEARs Router.routeIds and Port.routeIds")
  func routeClears() async throws {
    let f = try await NSDBFixture.make("del-route")
    let store = f.store
    let port = ID.named("rp")
    try await store.transaction { tx in
      try await tx.create(Router(id: router, name: "r"))
      try await tx.create(Port(id: port, device: .router(router)))
      try await tx.create(route("keep", via: port))
      try await tx.create(route("drop", via: port))
    }
    #expect(try await store.get(Router.self, router).routeIds == [.named("keep"), .named("drop")])
    #expect(try await store.get(Port.self, port).routeIds == [.named("keep"), .named("drop")])

    try await store.delete(Route.self, .named("drop"))
    #expect(try await !store.exists(Route.self, .named("drop")))
    #expect(try await store.get(Router.self, router).routeIds == [.named("keep")])
    #expect(try await store.get(Port.self, port).routeIds == [.named("keep")])
    #expect(try await store.get(Route.self, .named("keep")).nextHopPortId == port)
    await f.close()
  }

  @Test("deleting a TunnelZone CLEARs Host.tunnelZoneIds")
  func tunnelZoneClears() async throws {
    let f = try await NSDBFixture.make("del-zone")
    let store = f.store
    let other = ID.named("host2")
    let (zone, keep) = (ID.named("zone"), ID.named("keep"))
    let endpoint = TunnelZone.Endpoint(address: IPv4Address(127, 0, 0, 1), port: 6677)
    try await store.transaction { tx in
      try await tx.create(Host(id: host, name: "h"))
      try await tx.create(Host(id: other, name: "h2"))
      try await tx.create(
        TunnelZone(id: zone, name: "z", members: [host: endpoint, other: endpoint]))
      try await tx.create(TunnelZone(id: keep, name: "k", members: [host: endpoint]))
    }
    #expect(try await store.get(Host.self, host).tunnelZoneIds == [zone, keep])
    #expect(try await store.get(Host.self, other).tunnelZoneIds == [zone])

    try await store.delete(TunnelZone.self, zone)
    #expect(try await !store.exists(TunnelZone.self, zone))
    #expect(try await store.get(Host.self, host).tunnelZoneIds == [keep])
    #expect(try await store.get(Host.self, other).tunnelZoneIds.isEmpty)
    #expect(try await store.get(TunnelZone.self, keep).hostIds == [host])
    await f.close()
  }

  @Test("deleting a Dhcp CLEARs Bridge.dhcpIds")
  func dhcpClears() async throws {
    let f = try await NSDBFixture.make("del-dhcp")
    let store = f.store
    let (drop, keep) = (ID.named("dhcp-drop"), ID.named("dhcp-keep"))
    try await store.transaction { tx in
      try await tx.create(Bridge(id: bridge, name: "b"))
      try await tx.create(
        Dhcp(id: drop, bridgeId: bridge, subnet: IPv4Prefix(IPv4Address(10, 0, 0, 0), length: 24)))
      try await tx.create(
        Dhcp(id: keep, bridgeId: bridge, subnet: IPv4Prefix(IPv4Address(10, 0, 1, 0), length: 24)))
    }
    #expect(try await store.get(Bridge.self, bridge).dhcpIds == [drop, keep])

    try await store.delete(Dhcp.self, drop)
    #expect(try await !store.exists(Dhcp.self, drop))
    #expect(try await store.get(Bridge.self, bridge).dhcpIds == [keep])
    #expect(try await store.get(Dhcp.self, keep).bridgeId == bridge)
    await f.close()
  }

  @Test("deleting a Port CLEARs Host.portIds and PortGroup.portIds")
  func portClears() async throws {
    let f = try await NSDBFixture.make("del-port")
    let store = f.store
    let group = ID.named("group")
    let (drop, keep) = (ID.named("p-drop"), ID.named("p-keep"))
    try await store.transaction { tx in
      try await tx.create(Host(id: host, name: "h"))
      try await tx.create(PortGroup(id: group, name: "g", stateful: false))
      try await tx.create(Bridge(id: bridge, name: "b"))
      for (port, name) in [(drop, "veth0"), (keep, "veth1")] {
        try await tx.create(
          Port(
            id: port, device: .bridge(bridge), portGroupIds: [group], hostId: host,
            interfaceName: name))
      }
    }
    #expect(try await store.get(Host.self, host).portIds == [drop, keep])
    #expect(try await store.get(PortGroup.self, group).portIds == [drop, keep])

    try await store.delete(Port.self, drop)
    #expect(try await !store.exists(Port.self, drop))
    #expect(try await store.get(Host.self, host).portIds == [keep])
    #expect(try await store.get(PortGroup.self, group).portIds == [keep])
    let kept = try await store.get(Port.self, keep)
    #expect(kept.hostId == host)
    #expect(kept.portGroupIds == [group])
    await f.close()
  }
}
