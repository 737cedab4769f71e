import MidgeTestSupport
import Testing
import ZooKeeper

@Suite("ZooKeeper client across server restarts", .serialized)
struct RestartTests {
  @Test("a data watch converges across a server restart")
  func watchAcrossRestart() async throws {
    try await ZooKeeperServer.with { server in
      try await server.withClient(sessionTimeout: .seconds(8)) { client in
        try await server.withClient(sessionTimeout: .seconds(8), label: "writer") { writer in
          let path = "/restart-watch"
          let states = client.watchData(path).withDeadlines("data state of \(path)")
          #expect(try await states.next() == .absent)
          try await writer.create(path, data: [1])
          #expect(try await states.next()?.data == [1])

          try await server.kill(member: 1)
          try await server.restart(member: 1)
          // Both sessions survive (the restart is well within their timeout);
          // write after the restart and the watch must see it.
          try await writer.waitUntilConnected(timeout: .seconds(10))
          try await writer.set(path, data: [2])
          // The first state after the restart may wait for the client to reconnect.
          var last = try await states.next(within: WaitBudget.recovery)
          for _ in 0..<3 where last?.data != [2] { last = try await states.next() }
          #expect(last?.data == [2])

          try await writer.delete(path)
          last = try await states.next()
          #expect(last == .absent)
        }
      }
    }
  }
}
