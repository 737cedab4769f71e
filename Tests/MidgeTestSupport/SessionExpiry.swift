import Testing
import ZooKeeper

/// Expires `client`'s session and waits until the client runs on a new one
/// (`ZooKeeperClient.forceExpiry` retries the race it can lose); a failure is
/// recorded as a test issue.
public func forceSessionExpiry(_ client: ZooKeeperClient, on server: ZooKeeperServer) async throws {
  do {
    try await client.forceExpiry()
  } catch {
    Issue.record("session \(client.sessionID) could not be expired: \(error)")
  }
}
