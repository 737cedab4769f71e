import ArgumentParser
import Logging
import NSDB
import Topology
import ZooKeeper

/// The options every command that talks to the NSDB takes.
struct ClusterOptions: ParsableArguments {
  @Option(
    name: .customLong("zk"),
    help: "ZooKeeper connect string (default: $MIDGE_ZK or 127.0.0.1:2181).")
  var connectString: String = Environment.zookeeper

  @Option(help: "NSDB root path.")
  var root: String = "/midge"

  @Option(help: "Seconds to wait for a ZooKeeper session.")
  var timeout: Int = 10

  /// Connects, runs `body` with the store, and closes the session whatever happens.
  /// `readOnly` skips creating the NSDB layout, so a read (`check`) never writes.
  func withStore<R>(
    readOnly: Bool = false, maxRequestBytes: Int = NSDBStore.defaultMaxRequestBytes,
    _ body: (NSDBStore) async throws -> R
  ) async throws
    -> R
  {
    var logger = Logger(label: "midgectl")
    logger.logLevel = .warning
    let client: ZooKeeperClient
    do {
      client = try await ZooKeeperClient.connect(
        to: connectString, sessionTimeout: .seconds(10), logger: logger, timeout: .seconds(timeout))
    } catch {
      throw CommandError("cannot reach ZooKeeper at \(connectString) (--zk or $MIDGE_ZK): \(error)")
    }
    let store = NSDBStore(
      client: client, root: root, logger: logger, maxRequestBytes: maxRequestBytes)
    do {
      if !readOnly { try await store.setUp() }
      let result = try await body(store)
      await client.close()
      return result
    } catch {
      await client.close()
      throw error
    }
  }
}

extension NSDBStore {
  /// Everything stored, as one snapshot.
  func snapshot() async throws -> TopologySnapshot {
    var snapshot = TopologySnapshot()
    for host in try await getAll(Host.self) { snapshot.hosts[host.id] = host }
    for zone in try await getAll(TunnelZone.self) { snapshot.tunnelZones[zone.id] = zone }
    for bridge in try await getAll(Bridge.self) { snapshot.bridges[bridge.id] = bridge }
    for router in try await getAll(Router.self) { snapshot.routers[router.id] = router }
    for port in try await getAll(Port.self) { snapshot.ports[port.id] = port }
    for route in try await getAll(Route.self) { snapshot.routes[route.id] = route }
    for chain in try await getAll(Chain.self) { snapshot.chains[chain.id] = chain }
    for rule in try await getAll(Rule.self) { snapshot.rules[rule.id] = rule }
    for group in try await getAll(PortGroup.self) { snapshot.portGroups[group.id] = group }
    for group in try await getAll(IPAddrGroup.self) { snapshot.ipAddrGroups[group.id] = group }
    for dhcp in try await getAll(Dhcp.self) { snapshot.dhcps[dhcp.id] = dhcp }
    return snapshot
  }
}

/// A failure to report as one clear line (no usage text: the command was right).
struct CommandError: Error, CustomStringConvertible {
  var description: String
  init(_ description: String) { self.description = description }
}
