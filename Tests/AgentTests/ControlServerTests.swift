import Agent
import Foundation
import Glibc
import Logging
import MidgeTestSupport
import Testing

/// The control API's HTTP server under hostile clients: it stays available and bounded.
@Suite("Control API server: concurrency, limits and hostile clients", .serialized)
struct ControlServerTests {
  let logger = Logger(label: "control-server-test")

  /// A server whose handler echoes the path and query it was given.
  private func server(_ limits: ControlServer.Limits = ControlServer.Limits()) async throws
    -> ControlServer
  {
    try await ControlServer.start(address: "127.0.0.1:0", limits: limits, logger: logger) {
      request in
      let query = request.query.keys.sorted().map { "\($0)=\(request.query[$0]!)" }
      return ControlResponse(
        contentType: "text/plain", body: "\(request.path) \(query.joined(separator: "&"))")
    }
  }

  @Test("requests that crashed the old parser get an answer, and the server keeps serving")
  func crashInputs() async throws {
    let server = try await server()
    defer { Task { await server.stop() } }
    for target in [
      "/health?=", "/health?&&=&", "/trace?port=vm1&packet=tcp+:+>+10.77.1.3:80", "/?",
    ] {
      let answer = try RawClient.exchange(port: server.port, "GET \(target) HTTP/1.0\r\n\r\n")
      #expect(answer.status == 200, "\(target): \(answer.text)")
    }
    let answer = try RawClient.exchange(port: server.port, "GET /health?= HTTP/1.0\r\n\r\n")
    #expect(answer.text.hasSuffix("/health "))
  }

  @Test("the server says the address it really listens on")
  func address() async throws {
    let server = try await ControlServer.start(
      address: "127.0.0.2:0", logger: logger, handler: { _ in ControlResponse(body: "{}") })
    defer { Task { await server.stop() } }
    #expect(server.address == "127.0.0.2:\(server.port)")
    await #expect(throws: AgentError.self) {
      _ = try await ControlServer.start(
        address: "127.0.0.1:\(server.port)x", logger: logger,
        handler: { _ in ControlResponse(body: "") })
    }
  }

  @Test("bad requests are refused with a status, not served or crashed on")
  func badRequests() async throws {
    let server = try await server()
    defer { Task { await server.stop() } }
    #expect(
      try RawClient.exchange(
        port: server.port, "POST /health HTTP/1.1\r\nContent-Length: 0\r\n\r\n"
      ).status == 405)
    #expect(try RawClient.exchange(port: server.port, "\u{01}\u{02} garbage\r\n\r\n").status == 400)
    let huge = "GET /health HTTP/1.1\r\nX-Pad: \(String(repeating: "a", count: 20_000))\r\n\r\n"
    #expect(try RawClient.exchange(port: server.port, huge).status == 431)
    let body =
      "GET /health HTTP/1.1\r\nContent-Length: 100000\r\n\r\n"
      + String(repeating: "b", count: 30_000)
    #expect(try RawClient.exchange(port: server.port, body).status == 431)
    #expect(try RawClient.exchange(port: server.port, "GET /health HTTP/1.0\r\n\r\n").status == 200)
  }

  @Test("a client that trickles its request is cut off at the deadline without holding up others")
  func slowClient() async throws {
    var limits = ControlServer.Limits()
    limits.requestTimeout = .seconds(1)
    let server = try await server(limits)
    defer { Task { await server.stop() } }
    let slow = try RawClient.connect(port: server.port)
    defer { close(slow) }
    let start = ContinuousClock.now
    // One byte, then the healthy client is served at once while the slow one dawdles.
    _ = send(slow, "G", 1, Int32(MSG_NOSIGNAL))
    let health = try RawClient.exchange(port: server.port, "GET /health HTTP/1.0\r\n\r\n")
    #expect(health.status == 200)
    #expect(
      ContinuousClock.now - start < .milliseconds(900), "served before the slow client's deadline")
    // A byte every 300 ms never completes the request: the deadline closes it with 408.
    var text = ""
    for byte in "ET /x".utf8 {
      try await Task.sleep(for: .milliseconds(300))
      var value = byte
      if send(slow, &value, 1, Int32(MSG_NOSIGNAL)) <= 0 { break }
    }
    text = RawClient.readAll(slow, timeout: 3)
    #expect(text.hasPrefix("HTTP/1.1 408"), "got: \(text.prefix(80))")
    let elapsed = ContinuousClock.now - start
    // Not before the deadline; the 408 above shows the server, not our read's timeout,
    // ended it (a loaded machine may be slow to run the trickle itself).
    #expect(elapsed >= .milliseconds(900), "closed at about the 1 s deadline: \(elapsed)")
  }

  @Test("/health answers within 100 ms while 1,000 idle connections are open")
  func idleFlood() async throws {
    let server = try await server()
    defer { Task { await server.stop() } }
    /// The median of 10 /health exchanges; nil when one went unanswered.
    func medianLatency() throws -> Duration? {
      var latencies: [Duration] = []
      for _ in 0..<10 {
        let start = ContinuousClock.now
        let answer = try RawClient.exchange(port: server.port, "GET /health HTTP/1.0\r\n\r\n")
        latencies.append(ContinuousClock.now - start)
        guard answer.status == 200 else { return nil }
      }
      return latencies.sorted()[latencies.count / 2]
    }
    // What an answer costs on this machine now, with no idle connection: other suites
    // running beside this one can make it slow, and the budget scales with it.
    var baselines: [Duration] = []
    for _ in 0..<3 { if let median = try medianLatency() { baselines.append(median) } }
    let baseline = try #require(baselines.min(), "/health unanswered with no idle client")
    var idle: [Int32] = []
    defer { for fd in idle { close(fd) } }
    for _ in 0..<1000 { idle.append(try RawClient.connect(port: server.port)) }
    // Each idle connection has been accepted once the oldest beyond the limit is closed
    // (a loaded machine accepts slowly: measured before that, a request waits in the
    // listen backlog behind the flood, which says nothing of the server).
    let settled = await eventually(timeout: .seconds(15), every: .milliseconds(50)) {
      RawClient.isClosed(idle[0])
    }
    #expect(settled, "the oldest idle connection was never closed")
    // The best of three rounds: a burst of load elsewhere spoils one round, not three.
    var rounds: [Duration?] = []
    for _ in 0..<3 { rounds.append(try medianLatency()) }
    let budget = max(.milliseconds(100), baseline * 10)
    #expect(
      rounds.contains { $0.map { $0 < budget } ?? false },
      "medians \(rounds) (nil: an exchange unanswered), baseline \(baseline)")
    // The server bounded itself: connections beyond its limit were closed, oldest first.
    let first = RawClient.readAll(idle[0], timeout: 1)
    #expect(first.isEmpty, "the oldest idle connection was closed without an answer")
    #expect(RawClient.isClosed(idle[0]))
    #expect(!RawClient.isClosed(idle[999]), "the newest idle connection is still open")
  }
}
