import Logging
import MidgeTestSupport
import NSDB
import Testing
import Topology
import ZooKeeper

private let log = ZooKeeperServer.logger("lease")

/// The fence of a gateway takeover (HostLease), against a real ZooKeeper: what a holder's
/// confirmation says before and after another host fences it, and what an eviction
/// removes.
@Suite("Host lease: confirm, fence, evict, renew", .timeLimit(.minutes(2)))
struct HostLeaseTests {
  @Test(
    "a fenced holder's confirmation says fenced; the eviction removes its election node and active port; renew makes it held again"
  )
  func fenceEvictRenew() async throws {
    let server = try await ZooKeeperServer.shared()
    let paths = NSDBPaths(root: uniquePath("lease"))
    let holderClient = try await server.client(sessionTimeout: .seconds(4), label: "holder")
    let standbyClient = try await server.client(sessionTimeout: .seconds(4), label: "standby")
    defer {
      Task {
        await holderClient.close()
        await standbyClient.close()
      }
    }
    let holder = ID(name: "Host/holder")
    let standby = ID(name: "Host/standby")
    let port = ID(name: "Port/uplink")
    let holderLease = HostLease(client: holderClient, paths: paths, logger: log)
    let standbyLease = HostLease(client: standbyClient, paths: paths, logger: log)

    // Before registering there is nothing to confirm.
    #expect(try await holderLease.confirm(host: holder) == .gone)
    try await holderLease.register(host: holder)
    try await standbyLease.register(host: standby)
    #expect(try await holderLease.confirm(host: holder) == .held)
    // Another session's node is not this session's lease.
    #expect(try await standbyLease.confirm(host: holder) == .gone)

    // The holder leads the port's election and has the port active.
    let electionPath = paths.election("port-\(port)")
    let first = LeaderElection(
      client: holderClient, path: electionPath, candidate: holder.description, logger: log)
    try await first.join()
    let second = LeaderElection(
      client: standbyClient, path: electionPath, candidate: standby.description, logger: log)
    try await second.join()
    #expect(first.leadership == .leader)
    #expect(second.leadership == .follower)
    let holderPorts = PortState(client: holderClient, paths: paths, logger: log)
    try await holderPorts.activate(port: port, host: holder, tunnelKey: 7)

    // Evicting a host that does not lead changes nothing.
    #expect(
      try await standbyLease.evict(host: standby, election: electionPath, port: port) == false)

    // Fencing is idempotent and makes the holder's next confirmation say so.
    #expect(try await standbyLease.fence(host: holder))
    #expect(try await standbyLease.fence(host: holder))
    #expect(try await holderLease.confirm(host: holder) == .fenced)

    #expect(try await standbyLease.evict(host: holder, election: electionPath, port: port))
    #expect(try await holderClient.exists(paths.portActive(port)) == nil)
    #expect(await eventually { second.leadership == .leader })
    #expect(try await second.currentLeader() == standby.description)

    // The fenced holder renews: held again, by a fresh node of its session.
    try await holderLease.renew(host: holder)
    #expect(try await holderLease.confirm(host: holder) == .held)

    // A host without a lease node (its session gone) is not fenced: nothing to wait for.
    #expect(try await standbyLease.fence(host: ID(name: "Host/nobody")) == false)
  }
}
