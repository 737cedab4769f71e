import Logging
import MidgeTestSupport
import NSDB
import Synchronization
import Testing
import ZooKeeper

private let log = ZooKeeperServer.logger("election")

/// Records every leadership a candidate reports, from the moment it joined.
private final class History: Sendable {
  final class Seen: Sendable {
    let list = Mutex<[Leadership]>([])
  }

  let seen = Seen()
  let task: Task<Void, Never>

  init(_ election: LeaderElection) {
    let updates = election.updates()
    let seen = self.seen
    task = Task {
      for await leadership in updates { seen.list.withLock { $0.append(leadership) } }
    }
  }

  var all: [Leadership] { seen.list.withLock { $0 } }
  var last: Leadership? { all.last }
  deinit { task.cancel() }
}

/// `count` candidates on separate clients, joined in order.
private func candidates(
  _ server: ZooKeeperServer, path: String, count: Int
) async throws -> ([ZooKeeperClient], [LeaderElection]) {
  var clients: [ZooKeeperClient] = []
  var elections: [LeaderElection] = []
  for index in 1...count {
    let client = try await server.client(sessionTimeout: .seconds(2), label: "candidate-\(index)")
    clients.append(client)
    let election = LeaderElection(
      client: client, path: path, candidate: "host-\(index)", logger: log)
    try await election.join()
    elections.append(election)
  }
  return (clients, elections)
}

@Suite("Leader election on ephemeral-sequential candidates", .timeLimit(.minutes(2)))
struct LeaderElectionTests {
  @Test("leadership passes down the line as leaders' sessions die; the rest never stir")
  func handsOverInOrder() async throws {
    let server = try await ZooKeeperServer.shared()
    let path = NSDBPaths(root: uniquePath("election")).election("uplink")
    let (clients, elections) = try await candidates(server, path: path, count: 4)
    defer { Task { for client in clients { await client.close() } } }
    #expect(elections.map(\.leadership) == [.leader, .follower, .follower, .follower])
    #expect(try await elections[3].currentLeader() == "host-1")
    let histories = elections.map(History.init)
    #expect(await eventually { histories.allSatisfy { !$0.all.isEmpty } })

    // Expire the leader's session: the second takes over, third and fourth do not move.
    try await forceSessionExpiry(clients[0], on: server)
    #expect(await eventually { elections[1].isLeader })
    #expect(try await elections[2].currentLeader() == "host-2")
    // The old leader learns it lost, then re-joins at the back.
    #expect(await eventually { elections[0].leadership == .follower })
    let lost = histories[0].all
    let expiredAt = try #require(lost.lastIndex(of: .out), "no .out in \(lost)")
    #expect(!lost[expiredAt...].contains(.leader))

    // Close the new leader's client: the third leads.
    await clients[1].close()
    #expect(await eventually { elections[2].isLeader })
    #expect(histories[3].all == [.follower])
    #expect(elections[0].leadership == .follower)
    #expect(try await elections[0].currentLeader() == "host-3")

    // Order now: host-3, host-4, host-1.
    await elections[2].stepDown()
    #expect(await eventually { elections[3].isLeader })
    #expect(await eventually { elections[2].leadership == .follower })
    #expect(elections[0].leadership == .follower)
    // Order now: host-4, host-1, host-3.
    await elections[3].stepDown(rejoin: false)
    #expect(elections[3].leadership == .out)
    #expect(await eventually { elections[0].isLeader })
    #expect(elections[2].leadership == .follower)
    #expect(try await elections[2].currentLeader() == "host-1")
    #expect(!histories[2].all.contains(.suspended))
    for client in clients { await client.close() }
    try await server.withClient { try await $0.deleteRecursively(path) }
  }

  @Test("a middle candidate leaving disturbs nobody; its follower re-targets")
  func middleCandidateLeaves() async throws {
    let server = try await ZooKeeperServer.shared()
    let path = NSDBPaths(root: uniquePath("election-mid")).election("gw")
    let (clients, elections) = try await candidates(server, path: path, count: 3)
    defer { Task { for client in clients { await client.close() } } }
    let histories = elections.map(History.init)
    #expect(await eventually { histories.allSatisfy { !$0.all.isEmpty } })
    await clients[1].close()
    try await Task.sleep(for: .milliseconds(300))
    #expect(histories[0].all == [.leader])
    #expect(histories[2].all == [.follower])
    // The third now watches the first: the first's death reaches it.
    await clients[0].close()
    #expect(await eventually { elections[2].isLeader })
    #expect(try await elections[2].currentLeader() == "host-3")
    await clients[2].close()
    #expect(await eventually { elections[2].leadership == .out })
    try await server.withClient { try await $0.deleteRecursively(path) }
  }

  @Test("a leader whose server goes away reports suspended, then leads again")
  func suspendedWhileDisconnected() async throws {
    try await ZooKeeperServer.with { server in
      let client = try await server.client(sessionTimeout: .seconds(20), label: "leader")
      defer { Task { await client.close() } }
      let election = LeaderElection(
        client: client, path: "/midge/v1/election/x", candidate: "host-1", logger: log)
      try await election.join()
      #expect(election.isLeader)
      try await server.kill(member: 1)
      #expect(await eventually(timeout: .seconds(20)) { election.leadership == .suspended })
      #expect(!election.isLeader)
      try await server.restart(member: 1)
      #expect(await eventually(timeout: .seconds(20)) { election.isLeader })
      await client.close()
    }
  }
}
