import Foundation
import ZooKeeper

/// The session file: what `midge-supervisor` needs to close this agent's session after
/// the agent died (see `AgentConfiguration.sessionFile`).
extension Agent {
  /// Writes the current session's id and password (and where ZooKeeper is), replacing
  /// the file at once (write, then rename), readable by root only.
  func writeSessionFile() {
    guard let path = configuration.sessionFile, let credentials = client?.credentials else {
      return
    }
    let text = SessionFile(
      zookeeper: configuration.zookeeper, credentials: credentials
    ).text
    let temporary = path + ".tmp"
    do {
      try Data(text.utf8).write(to: URL(fileURLWithPath: temporary))
      chmod(temporary, 0o600)
      guard rename(temporary, path) == 0 else { throw SessionFileError("rename failed: \(errno)") }
    } catch {
      logger.info(
        "cannot write the session file",
        metadata: ["agent.file": "\(path)", "agent.error": "\(error)"])
    }
  }

  /// The session was closed by the agent itself: nothing for a supervisor to do.
  func removeSessionFile() {
    guard let path = configuration.sessionFile else { return }
    unlink(path)
  }
}

struct SessionFileError: Error, CustomStringConvertible {
  var description: String
  init(_ description: String) { self.description = description }
}
