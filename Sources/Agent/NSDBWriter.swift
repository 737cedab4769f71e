import Logging

/// Runs the agent's NSDB writes (port activity, learned MACs and ARP entries) one at a
/// time, in the order they were asked for, off the event loop.
///
/// Why serial: an activate followed by a deactivate of the same port must reach
/// ZooKeeper in that order. Why off the loop: while ZooKeeper is unreachable a write
/// waits for the connection, and the packet path must not (fail static). Failures are
/// logged and counted; the state they would have written is re-derived on the next
/// change or session.
final class NSDBWriter: Sendable {
  typealias Job = @Sendable () async throws -> Void

  private let continuation: AsyncStream<(String, Job)>.Continuation
  private let task: Task<Void, Never>

  init(logger: Logger, metrics: AgentMetrics) {
    let (stream, continuation) = AsyncStream<(String, Job)>.makeStream()
    self.continuation = continuation
    task = Task {
      for await (what, job) in stream {
        do {
          try await job()
        } catch {
          metrics.nsdbWriteFailures.add(1, ordering: .relaxed)
          logger.info(
            "NSDB write failed", metadata: ["agent.write": "\(what)", "agent.error": "\(error)"])
        }
      }
    }
  }

  /// Queues `job`, described by `what` for the log.
  func enqueue(_ what: String, _ job: @escaping Job) {
    continuation.yield((what, job))
  }

  /// Waits for every queued write, then stops.
  func finish() async {
    continuation.finish()
    await task.value
  }
}
