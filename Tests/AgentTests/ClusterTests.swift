import Foundation
import Glibc
import MidgeTestSupport
import Testing

/// The rows of an agent's `/ports`, by port name.
func portRows(_ body: String) -> [String: [String: Any]] {
  guard let data = body.data(using: .utf8),
    let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
    let rows = object["ports"] as? [[String: Any]]
  else { return [:] }
  var byName: [String: [String: Any]] = [:]
  for row in rows {
    if let name = row["name"] as? String { byName[name] = row }
  }
  return byName
}

/// What of `world` shows in the root namespace's addresses, routes and links: nothing,
/// when the cluster keeps to its namespaces as it must. `also`: more address prefixes
/// ("10.62.") a test used inside the cluster's namespaces.
func rootNamespaceTraces(_ world: ClusterWorld, also: [String] = []) -> [String] {
  let underlay = world.values["UNDERLAY"].map { String($0.prefix { $0 != "/" }.dropLast()) } ?? "-"
  let tag = "mc" + (world.values["CLUSTER_TAG"] ?? "-")
  let addresses = runCommand(["ip", "-o", "-4", "addr", "show"]).output
  let routes = runCommand(["ip", "-4", "route", "show", "table", "all"]).output
  let links = runCommand(["ip", "-o", "link", "show"]).output
  var traces: [String] = []
  for line in (addresses + routes).split(separator: "\n")
  where line.contains(underlay) || line.contains(" 10.71.") || line.hasPrefix("10.71.")
    || also.contains(where: { line.contains($0) })
  {
    traces.append(String(line))
  }
  for line in links.split(separator: "\n")
  where line.contains(tag) || world.vms.keys.contains(where: { line.contains(": \($0)@") }) {
    traces.append(String(line))
  }
  return traces
}

@Suite(
  "A cluster on one machine: hosts in namespaces on a real underlay, a ZooKeeper ensemble on it",
  .serialized, .requires(Requirement.cluster))
struct ClusterTests {
  @Test(
    "VMs on different hosts ping each other on one bridge and through the router; the chain blocks its pair only"
  )
  func pings() async throws {
    let world = try await ClusterWorld.up(hosts: 3)
    defer { world.down() }
    print("ops/cluster up --hosts 3 took \(world.upDuration)")
    let vms = world.vms
    // The plan ops/cluster documents: VMs alternate between the bridges, host by host.
    let a1 = try #require(vms["h1v1"])
    let a2 = try #require(vms["h2v1"])
    let a3 = try #require(vms["h3v1"])
    let b1 = try #require(vms["h1v2"])
    let b2 = try #require(vms["h2v2"])
    let b3 = try #require(vms["h3v2"])
    #expect(Set([a1, a2, a3].map(\.bridge)) == ["tenant-a"])
    #expect(Set([b1, b2, b3].map(\.bridge)) == ["tenant-b"])

    #expect(
      await world.pingsEventually(from: a1.name, to: a2.address), "one bridge, host-1 → host-2")
    #expect(
      await world.pingsEventually(from: a1.name, to: a3.address), "one bridge, host-1 → host-3")
    #expect(await world.pingsEventually(from: a1.name, to: b2.address), "routed, host-1 → host-2")
    #expect(await world.pingsEventually(from: b3.name, to: a1.address), "routed, host-3 → host-1")
    #expect(
      await world.pingsEventually(from: b2.name, to: b3.address), "one bridge, host-2 → host-3")

    // The chain drops BLOCK_FROM → BLOCK_TO (on BLOCK_FROM's inbound filter) and nothing else.
    let from = try #require(world.values["BLOCK_FROM"].flatMap { vms[$0] })
    let to = try #require(world.values["BLOCK_TO"].flatMap { vms[$0] })
    #expect(from.host != to.host, "the blocked pair crosses hosts")
    let other = try #require(vms.values.first { $0.bridge == to.bridge && $0.name != to.name })
    #expect(
      await world.pingsEventually(from: from.name, to: other.address),
      "\(from.name) reaches \(other.name): the chain blocks one pair only")
    #expect(
      !world.ping(from: from.name, to: to.address, count: 3),
      "the chain blocks \(from.name) → \(to.name)")

    // Tunnels run between the hosts' underlay addresses, and the root namespace has
    // nothing of the cluster.
    // A flow exists right after a ping; a MAC learned or a table changed meanwhile may have
    // invalidated it since, hence a fresh ping before each look (bounded).
    for (peer, vm) in [("host-2", a2), ("host-3", a3)] {
      let tunnel = "to=\(world.host(peer).address):6677"
      let tunnelling = await eventually(timeout: .seconds(10), every: .milliseconds(100)) {
        world.ping(from: a1.name, to: vm.address, count: 1)
          && ((try? world.control("host-1", "/flows"))?.contains(tunnel) ?? false)
      }
      #expect(tunnelling, "host-1 tunnels to \(peer)")
    }
    #expect(rootNamespaceTraces(world).isEmpty, "\(rootNamespaceTraces(world))")
  }

  @Test(
    "routed traffic from a host that has no port on the destination bridge: the bridge is loaded for the router's ARP request"
  )
  func routedToABridgeNotCachedHere() async throws {
    // Two hosts, one VM each: h1v1 on tenant-a at host-1, h2v1 on tenant-b at host-2.
    let world = try await ClusterWorld.up(hosts: 2, vmsPerHost: 1)
    defer { world.down() }
    let a = try #require(world.vms["h1v1"])
    let b = try #require(world.vms["h2v1"])
    #expect(a.bridge == "tenant-a" && b.bridge == "tenant-b")
    // The router ARPs for the destination out of its tenant-b port. The agent simulates
    // that generated request through the peer bridge, which host-1 has not cached (none
    // of its ports is on it): the agent loads the bridge and sends the request once it
    // arrives. Both directions, as each host lacks the other's bridge.
    #expect(
      await world.pingsEventually(from: a.name, to: b.address, timeout: .seconds(10)),
      "routed host-1 → host-2 with no tenant-b port on host-1")
    #expect(
      await world.pingsEventually(from: b.name, to: a.address, timeout: .seconds(10)),
      "routed host-2 → host-1 with no tenant-a port on host-2")
  }

  @Test(
    "64 MB of TCP across hosts arrive intact with the VMs' default MTU (1500) over a 1500-byte underlay"
  )
  func tcpAcrossHosts() async throws {
    let world = try await ClusterWorld.up(hosts: 3)
    defer { world.down() }
    let client = try #require(world.vms["h1v1"])
    let server = try #require(world.vms["h2v2"])
    let sender = world.host(client.host)
    let receiver = world.host(server.host)
    #expect(sender.name != receiver.name)
    // The premise: full-size frames inside the VMs, an underlay of the same MTU, so a
    // full frame's outer datagram (20 + 8 + 8 + 1514 bytes) does not fit one packet.
    #expect(world.mtu(client.namespace, "eth0") == 1500)
    #expect(world.mtu(server.namespace, "eth0") == 1500)
    #expect(world.mtu(sender.namespace, "eth0") == 1500)
    #expect(await world.pingsEventually(from: client.name, to: server.address), "routed path up")

    let size = 64 << 20
    let transfer = TCPTransfer(size: size)
    let fragmentsBefore = world.snmpCounter(sender.namespace, "Ip", "FragCreates") ?? 0
    let reassembledBefore = world.snmpCounter(receiver.namespace, "Ip", "ReasmOKs") ?? 0
    // Budget: 64 MB at 2 MB/s (about a thirtieth of the ~65 MB/s a debug build moves on
    // an idle 2-core machine), plus 10 s for the connection and the slow start.
    let floor = 2 << 20
    let began = ContinuousClock.now
    let result = try await transfer.run(
      server: server.namespace, client: client.namespace, address: server.address, port: 5001,
      timeout: .seconds(size / floor + 10))
    let took = ContinuousClock.now - began
    #expect(
      result.intact,
      "received \(result.bytes) of \(size) bytes (\(result.error ?? "ok"))\n\(world.agentLog(sender.name))"
    )
    let seconds = Double(took.components.seconds) + Double(took.components.attoseconds) / 1e18
    let fragments =
      (world.snmpCounter(sender.namespace, "Ip", "FragCreates") ?? 0) - fragmentsBefore
    let reassembled =
      (world.snmpCounter(receiver.namespace, "Ip", "ReasmOKs") ?? 0) - reassembledBefore
    print(
      "64 MB \(client.name) → \(server.name) (\(sender.name) → \(receiver.name)) in \(took): "
        + "\(Int(Double(size) / seconds / 1e6)) MB/s; underlay: \(fragments) fragments sent by "
        + "\(sender.name), \(reassembled) datagrams reassembled by \(receiver.name)")
  }

  @Test(
    "a host's underlay cut: its agent fails static, peers stop tunnelling to it once its session expires, traffic returns with the link"
  )
  func linkCut() async throws {
    let world = try await ClusterWorld.up(hosts: 3)
    defer { world.down() }
    let cut = world.host("host-3")
    let local = try #require(world.vms["h3v1"])
    let neighbour = try #require(world.vms["h3v2"])
    let remote = try #require(world.vms["h1v1"])
    #expect(local.host == cut.name && neighbour.host == cut.name && remote.host == "host-1")
    let tunnel = "to=\(cut.address):6677"

    #expect(
      await world.pingsEventually(from: local.name, to: neighbour.address), "routed on host-3")
    // A flow from host-1 towards host-3 exists right after a ping (a MAC learned meanwhile
    // may replace it, hence the retries).
    let tunnelling = await eventually(timeout: .seconds(15), every: .milliseconds(100)) {
      world.ping(from: remote.name, to: local.address, count: 1)
        && ((try? world.control("host-1", "/flows"))?.contains(tunnel) ?? false)
    }
    try #require(tunnelling, "host-1 never tunnelled to host-3")
    #expect(portRows(try world.control("host-1", "/ports"))[local.name]?["activeOn"] != nil)

    try await world.cluster(["link", "down", cut.name])
    let cutAt = ContinuousClock.now
    #expect(
      world.ping(from: local.name, to: neighbour.address, count: 3), "host-3 right after the cut")

    // ZooKeeper expires host-3's session after the session timeout (checked every tick,
    // 500 ms); the deletion of its ephemeral nodes reaches host-1's watches in one round
    // trip. Ten seconds of margin for a loaded 2-core machine.
    let budget = Duration.seconds(world.sessionTimeout + 10)
    let gone = await eventually(timeout: budget, every: .milliseconds(100)) {
      guard let flows = try? world.control("host-1", "/flows"),
        let ports = try? world.control("host-1", "/ports")
      else { return false }
      return !flows.contains(tunnel) && portRows(ports)[local.name]?["activeOn"] == nil
    }
    let detected = ContinuousClock.now - cutAt
    #expect(gone, "host-1 still tunnels to host-3 or sees h3v1 active \(detected) after the cut")
    print("host-1 stopped tunnelling to the cut host-3 after \(detected)")

    // Fail static: host-3 no longer hears from ZooKeeper, and still forwards between its
    // own VMs, on the flows it had and on new ones (a new ping is a new ICMP id).
    let health = try world.control(cut.name, "/health")
    #expect(!health.contains("\"session\" : 1"), "host-3's session should be in doubt: \(health)")
    #expect(world.ping(from: local.name, to: neighbour.address, count: 3), "host-3 fails static")
    #expect(world.ping(from: neighbour.name, to: local.address, count: 3), "and the other way")
    #expect(
      !world.ping(from: remote.name, to: local.address, count: 2), "host-1 cannot reach host-3")

    try await world.cluster(["link", "up", cut.name])
    let restoredAt = ContinuousClock.now
    // Back: the ZooKeeper client reconnects (after its back-off), learns its session
    // expired, opens a new one and the agent re-creates its ephemeral nodes, which
    // host-1's watches see. Twice the session timeout plus 15 s of margin.
    let back = await world.pingsEventually(
      from: remote.name, to: local.address, timeout: .seconds(2 * world.sessionTimeout + 15))
    let recovered = ContinuousClock.now - restoredAt
    #expect(
      back,
      "no traffic host-1 → host-3 \(recovered) after the link came back\n\(world.agentLog(cut.name))"
    )
    print("traffic host-1 → host-3 back \(recovered) after the link came up")
    let tunnellingAgain = await eventually(timeout: .seconds(10), every: .milliseconds(100)) {
      world.ping(from: remote.name, to: local.address, count: 1)
        && ((try? world.control("host-1", "/flows"))?.contains(tunnel) ?? false)
    }
    #expect(tunnellingAgain, "host-1 tunnels to host-3 again")
    #expect(portRows(try world.control("host-1", "/ports"))[local.name]?["activeOn"] != nil)
  }
}
