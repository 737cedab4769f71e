import Logging
import ZooKeeper

/// Runs the agent's NSDB writes (port activity, learned MACs and ARP entries) one at a
/// time, in the order they were asked for, off the event loop.
///
/// Why serial: an activate followed by a deactivate of the same port must reach
/// ZooKeeper in that order. Why off the loop: while ZooKeeper is unreachable a write
/// waits for the connection, and the packet path must not (fail static). Failures are
/// counted, and logged once per kind of write and error every 10 s (with how many were
/// held back): while ZooKeeper is down every learned MAC would otherwise log a line.
/// The state they would have written is re-derived on the next change or session.
final class NSDBWriter: Sendable {
  typealias Job = @Sendable () async throws -> Void

  private let continuation: AsyncStream<(String, Job)>.Continuation
  private let task: Task<Void, Never>

  init(logger: Logger, metrics: AgentMetrics) {
    let (stream, continuation) = AsyncStream<(String, Job)>.makeStream()
    self.continuation = continuation
    task = Task {
      var limiter = LogRateLimiter()
      for await (what, job) in stream {
        do {
          try await job()
        } catch {
          metrics.nsdbWriteFailures.add(1, ordering: .relaxed)
          // The kind: the write's verb ("learn", "activate", ...) and the error's type.
          let kind = "\(what.prefix { $0 != " " }) \(type(of: error))"
          guard let suppressed = limiter.admit(kind, now: .now) else { continue }
          var metadata: Logger.Metadata = ["agent.write": "\(what)", "agent.error": "\(error)"]
          if suppressed > 0 { metadata["agent.suppressed"] = "\(suppressed)" }
          logger.info("NSDB write failed", metadata: metadata)
        }
      }
    }
  }

  /// Queues `job`, described by `what` for the log.
  func enqueue(_ what: String, _ job: @escaping Job) {
    continuation.yield((what, job))
  }

  /// Stops at once: the write in flight is cancelled, queued ones are dropped.
  func cancel() {
    continuation.finish()
    task.cancel()
  }
}
