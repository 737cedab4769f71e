import Testing

@testable import ZooKeeper

@Suite("ZooKeeper library log: rate limiting")
struct LogRateLimiterTests {
  let retry =
    "2026-12-04 10:00:00,123:42(0x7f):ZOO_ERROR@handle_socket_error_msg@1240: Socket [127.0.0.1:2181] zk retcode=-4"
  let other =
    "2026-12-04 10:00:00,124:42(0x7f):ZOO_WARN@zookeeper_interest@1700: Exceeded deadline by 12ms"

  @Test("a line's kind is its level and source location, not its text")
  func kinds() {
    #expect(LogRateLimiter.kind(of: retry) == "ZOO_ERROR@handle_socket_error_msg@1240")
    #expect(LogRateLimiter.kind(of: other) == "ZOO_WARN@zookeeper_interest@1700")
    #expect(LogRateLimiter.kind(of: "no marker") == "no marker")
  }

  @Test("60 retries a second for 20 s let through one line per kind per window, with the count")
  func retryStorm() {
    var limiter = LogRateLimiter(window: .seconds(10))
    let start = ContinuousClock.now
    var passed: [(Duration, Int)] = []
    for tick in 0..<1200 {
      let now = start + .milliseconds(tick * 1000 / 60)
      if let suppressed = limiter.admit(LogRateLimiter.kind(of: retry), now: now) {
        passed.append((now - start, suppressed))
      }
    }
    #expect(passed.count == 2, "\(passed)")
    #expect(passed.first?.1 == 0)
    #expect(passed.last?.1 == 599, "the second line says how many were held back")
    // Another kind is not held back by the first.
    #expect(limiter.admit(LogRateLimiter.kind(of: other), now: start + .seconds(19)) == 0)
  }
}

@Suite("Session file")
struct SessionFileTests {
  @Test("what the agent writes the supervisor reads back; anything else is refused")
  func roundTrip() {
    let file = SessionFile(
      zookeeper: "127.0.0.1:2181,127.0.0.1:2182",
      credentials: SessionCredentials(sessionID: -0x7000_0000_0000_0001, password: Array(0..<16)))
    #expect(SessionFile(parsing: file.text) == file)
    for garbage in [
      "", "zookeeper=x\n", "zookeeper=x\nsession=zz\npassword=00\n",
      "zookeeper=x\nsession=1\npassword=0\n", "zookeeper=x\nsession=1\npassword=\n", "\u{0}\u{1}",
    ] {
      #expect(SessionFile(parsing: garbage) == nil, "\(garbage.debugDescription)")
    }
  }
}
