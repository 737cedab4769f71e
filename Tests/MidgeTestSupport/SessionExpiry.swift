import Testing
import ZooKeeper

/// Expires `client`'s session and waits until the client runs on a new one.
///
/// Why retry: `ZooKeeperClient.expireSession` attaches a second handle to the
/// session and closes it. Attaching moves the session to the new connection;
/// the owner then reconnects at once, and if it takes the session back
/// before the close arrives, the server answers the close with "session
/// moved" and the session survives (seen here as suspended → reconnected).
/// A few attempts make the expiry certain.
public func forceSessionExpiry(_ client: ZooKeeperClient, on server: ZooKeeperServer) async throws {
  let old = client.sessionID
  for _ in 0..<5 {
    if let credentials = client.credentials, credentials.sessionID == old {
      try await ZooKeeperClient.expireSession(credentials, connectString: server.connectString)
    }
    let renewed = await eventually(timeout: .seconds(4)) {
      client.sessionID != old && client.isConnected
    }
    if renewed { return }
  }
  Issue.record("session \(old) could not be expired")
}
