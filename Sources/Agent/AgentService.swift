import Logging
import ServiceLifecycle

/// The agent as a swift-service-lifecycle `Service`: it runs until a graceful shutdown
/// (SIGTERM, SIGINT) is asked for, then stops cleanly — ports inactive, session closed —
/// so peers react at once rather than after the session timeout.
public struct AgentService: Service {
  public let agent: Agent

  public init(agent: Agent) {
    self.agent = agent
  }

  public func run() async throws {
    try await agent.start()
    // Wait for the shutdown signal; cancellation counts as one too.
    try? await gracefulShutdown()
    await agent.stop()
  }
}
