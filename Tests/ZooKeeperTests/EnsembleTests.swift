import MidgeTestSupport
import Testing
import ZooKeeper

@Suite("ZooKeeper client against an ensemble of three", .serialized)
struct EnsembleTests {
  @Test("losing the connected member: reconnects elsewhere within the session timeout")
  func failoverKeepsSession() async throws {
    try await ZooKeeperServer.with(members: 3) { ensemble in
      try await ensemble.withClient(sessionTimeout: .seconds(4)) { client in
        try await ensemble.withClient(sessionTimeout: .seconds(4), label: "observer") { observer in
          let events = client.sessionEvents().withDeadlines(
            "session event after the connected member was killed", budget: WaitBudget.recovery)
          let session = client.sessionID
          try await client.create("/failover", mode: .ephemeral)

          let server = try #require(client.currentServer)
          let port = try #require(server.split(separator: ":").last.flatMap { Int($0) })
          let member = try #require(try await ensemble.member(port: port))
          let killed = ContinuousClock.now
          try await ensemble.kill(member: member)

          var seen: [SessionEvent] = []
          while seen.count <= 5, let event = try await events.next() {
            seen.append(event)
            if case .reconnected = event { break }
          }
          let reconnectTime = ContinuousClock.now - killed
          #expect(seen.first == .suspended(sessionID: session))
          #expect(seen.last == .reconnected(sessionID: session), "events: \(seen)")
          #expect(reconnectTime < .seconds(4))
          #expect(client.sessionID == session)
          #expect(client.currentServer != server)
          let owner = try await observer.exists("/failover")?.ephemeralOwner
          #expect(owner == session, "the ephemeral did not survive the failover")
          print("reconnected to \(client.currentServer ?? "?") after \(reconnectTime)")
        }
      }
    }
  }

  @Test("with two of three members down writes fail clearly, and work after a restart")
  func quorumLoss() async throws {
    try await ZooKeeperServer.with(members: 3) { ensemble in
      try await ensemble.withClient(sessionTimeout: .seconds(8)) { client in
        try await client.create("/quorum", data: [0])
        let leader = try await ensemble.leader()
        let others = [1, 2, 3].filter { $0 != leader }
        try await ensemble.kill(member: leader)
        try await ensemble.kill(member: others[0])

        do {
          try await client.set("/quorum", data: [1])
          Issue.record("a write succeeded without a quorum")
        } catch let error as ZooKeeperError {
          let expected: [ZooKeeperError.Code] = [
            .connectionLoss, .outcomeUnknown, .operationTimeout, .sessionExpired,
          ]
          #expect(expected.contains(error.code), "unexpected error \(error)")
        }

        try await ensemble.restart(member: leader, wait: false)
        try await ensemble.restart(member: others[0], wait: false)
        try await ensemble.waitServing()
        let written = await eventually(timeout: .seconds(20), every: .milliseconds(200)) {
          do {
            try await client.set("/quorum", data: [2])
            return true
          } catch {
            return false
          }
        }
        #expect(written)
        #expect(try await client.get("/quorum").data == [2])
      }
    }
  }
}
