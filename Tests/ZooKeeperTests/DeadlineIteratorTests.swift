import MidgeTestSupport
import Testing

/// The bounded wait every stream-reading test relies on: it must fail in time when nothing
/// comes, and lose nothing when something does.
@Suite("DeadlineIterator: every wait on a stream is bounded")
struct DeadlineIteratorTests {
  @Test("a silent stream times out naming what was awaited; later elements are kept in order")
  func timesOutThenDelivers() async throws {
    let (stream, continuation) = AsyncStream.makeStream(of: Int.self)
    let events = stream.withDeadlines("number from the test stream")
    let began = ContinuousClock.now
    do {
      _ = try await events.next(within: .milliseconds(200))
      Issue.record("a silent stream delivered something")
    } catch let error as WaitTimedOut {
      #expect(error.message.contains("number from the test stream"))
      #expect(error.message.contains("DeadlineIteratorTests.swift"))
    }
    let waited = ContinuousClock.now - began
    #expect(waited >= .milliseconds(200) && waited < .seconds(5), "waited \(waited)")
    continuation.yield(1)
    continuation.yield(2)
    continuation.finish()
    #expect(try await events.next() == 1)
    #expect(try await events.next() == 2)
    #expect(try await events.next() == nil)
    #expect(try await events.next() == nil)
  }

  @Test("an element that comes while the test waits ends the wait at once")
  func wakesOnElement() async throws {
    let (stream, continuation) = AsyncStream.makeStream(of: Int.self)
    let events = stream.withDeadlines("number", budget: .seconds(20))
    let feeder = Task {
      try await Task.sleep(for: .milliseconds(50))
      continuation.yield(7)
    }
    let began = ContinuousClock.now
    #expect(try await events.next() == 7)
    #expect(ContinuousClock.now - began < .seconds(10))
    try await feeder.value
  }

  @Test("a stream's error reaches the test as it is")
  func passesErrors() async throws {
    struct Broken: Error {}
    let (stream, continuation) = AsyncThrowingStream.makeStream(of: Int.self)
    let events = stream.withDeadlines("number")
    continuation.yield(1)
    continuation.finish(throwing: Broken())
    #expect(try await events.next() == 1)
    await #expect(throws: Broken.self) { try await events.next() }
    #expect(try await events.next() == nil)
  }
}
