import Addresses
import Logging
import MidgeTestSupport
import NSDB
import Testing
import Topology
import ZooKeeper

private let log = ZooKeeperServer.logger("nat-leases")

/// Source-NAT port-block leases against a real ZooKeeper: two hosts asking for the same
/// blocks get different ones, a released block can be taken, and a closed session frees
/// its blocks.
@Suite("NAT port-block leases", .timeLimit(.minutes(2)))
struct NATLeasesTests {
  @Test(
    "two hosts asking for the same blocks get different ones; release and session end free them")
  func disjointLeases() async throws {
    let server = try await ZooKeeperServer.shared()
    let paths = NSDBPaths(root: uniquePath("nat"))
    let oneClient = try await server.client(sessionTimeout: .seconds(4), label: "one")
    let twoClient = try await server.client(sessionTimeout: .seconds(4), label: "two")
    defer { Task { await twoClient.close() } }
    let one = ID(name: "Host/one")
    let two = ID(name: "Host/two")
    let address = IPv4Address(10, 99, 0, 1)
    let oneLeases = NATLeases(client: oneClient, paths: paths, logger: log)
    let twoLeases = NATLeases(client: twoClient, paths: paths, logger: log)
    let indices: [UInt16] = [320, 321]

    let first = try #require(
      try await oneLeases.lease(host: one, address: address, indices: indices))
    let second = try #require(
      try await twoLeases.lease(host: two, address: address, indices: indices))
    #expect(first.index == 320)
    #expect(second.index == 321, "the second host must skip the block the first holds")
    #expect(first.ports == 20_480...20_543)
    // Both taken: a third request finds nothing.
    #expect(try await twoLeases.lease(host: two, address: address, indices: indices) == nil)
    #expect(try await oneLeases.holders(of: address) == [320: one, 321: two])

    // Released, the block is free for the other host.
    try await oneLeases.release(first)
    #expect(try await twoLeases.holders(of: address) == [321: two])
    #expect(try await twoLeases.lease(host: two, address: address, indices: indices)?.index == 320)
    try await twoLeases.release(NATBlock(address: address, index: 320))

    // A lease lives as long as its session.
    #expect(try await oneLeases.lease(host: one, address: address, indices: [320])?.index == 320)
    await oneClient.close()
    let freed = try await eventually(timeout: .seconds(10)) {
      try await twoLeases.holders(of: address)[320] == nil
    }
    #expect(freed, "a closed session's block is still held")
  }

  @Test("adopting a block leases it when free and names its holder when not")
  func adopt() async throws {
    let server = try await ZooKeeperServer.shared()
    let paths = NSDBPaths(root: uniquePath("nat-adopt"))
    let oneClient = try await server.client(sessionTimeout: .seconds(4), label: "one")
    let twoClient = try await server.client(sessionTimeout: .seconds(4), label: "two")
    defer {
      Task {
        await oneClient.close()
        await twoClient.close()
      }
    }
    let one = ID(name: "Host/one")
    let two = ID(name: "Host/two")
    let block = NATBlock(address: IPv4Address(10, 99, 0, 2), index: 400)
    let oneLeases = NATLeases(client: oneClient, paths: paths, logger: log)
    let twoLeases = NATLeases(client: twoClient, paths: paths, logger: log)

    #expect(try await oneLeases.adopt(host: one, block: block) == one)
    #expect(try await oneLeases.adopt(host: one, block: block) == one, "already ours")
    #expect(try await twoLeases.adopt(host: two, block: block) == one)
    #expect(try await twoLeases.holders(of: block.address) == [400: one])
    // Adopted, it is a lease like any other: no one else gets it, release frees it.
    #expect(try await twoLeases.lease(host: two, address: block.address, indices: [400]) == nil)
    try await oneLeases.release(block)
    #expect(try await twoLeases.adopt(host: two, block: block) == two)
  }
}
