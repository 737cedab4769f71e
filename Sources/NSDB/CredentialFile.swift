import Foundation
import Glibc
import Yams
import ZooKeeper

/// The ZooKeeper identities a process authenticates as, read from a file only its owner
/// can read (mode 0600 or stricter), so no secret is ever on a command line `ps` shows.
///
///     # Midge credentials: keep this file mode 0600
///     identities:
///       - user: agents
///         secret: 9vQ3...
///       - user: host-host-1
///         secret: Xk2P...
///     admin: admin:Qm9v...   # the administrator's public id (agents' files)
///
/// An agent's file names the administrator's public id, so that what the agent creates
/// names the administrator from the start, even before the tree is secured.
///
/// Every error names the file and what to do.
public enum CredentialFile {
  /// What one file holds.
  public struct Credentials: Sendable {
    public var identities: [DigestIdentity]
    /// The administrator's public id, if the file names it.
    public var adminID: String?

    public init(identities: [DigestIdentity], adminID: String? = nil) {
      self.identities = identities
      self.adminID = adminID
    }
  }

  /// The environment variable that names a credential file when no flag or setting does.
  public static let environmentVariable = "MIDGE_CREDENTIALS"

  struct Contents: Codable {
    struct Identity: Codable {
      var user: String
      var secret: String
    }
    var identities: [Identity]
    var admin: String?
  }

  /// The identities in the file at `path`.
  public static func load(_ path: String) throws -> [DigestIdentity] {
    try loadFile(path).identities
  }

  /// Everything in the file at `path`.
  public static func loadFile(_ path: String) throws -> Credentials {
    var info = stat()
    guard stat(path, &info) == 0 else {
      throw NSDBError(
        .invalidArgument,
        "cannot read the credential file \(path): \(String(cString: strerror(errno)))")
    }
    guard info.st_mode & 0o077 == 0 else {
      throw NSDBError(
        .invalidArgument,
        "the credential file \(path) is readable by others (mode \(String(info.st_mode & 0o777, radix: 8))); make it 0600 (chmod 600 \(path))"
      )
    }
    guard let data = FileManager.default.contents(atPath: path),
      let text = String(data: data, encoding: .utf8)
    else {
      throw NSDBError(.invalidArgument, "cannot read the credential file \(path)")
    }
    let contents: Contents
    do {
      contents = try YAMLDecoder().decode(Contents.self, from: text)
    } catch {
      throw NSDBError(
        .invalidArgument,
        "the credential file \(path) is not a list of identities (user, secret): \(error)")
    }
    guard !contents.identities.isEmpty else {
      throw NSDBError(.invalidArgument, "the credential file \(path) names no identity")
    }
    do {
      return Credentials(
        identities: try contents.identities.map {
          try DigestIdentity(user: $0.user, secret: $0.secret)
        }, adminID: contents.admin)
    } catch {
      throw NSDBError(.invalidArgument, "the credential file \(path): \(error)")
    }
  }

  /// Writes `identities` (and the administrator's public id) to a new file at `path`,
  /// mode 0600 (refuses to overwrite).
  public static func write(
    _ identities: [DigestIdentity], adminID: String? = nil, to path: String
  ) throws {
    var text = "# Midge credentials: keep this file mode 0600\nidentities:\n"
    for identity in identities {
      text += "  - user: \(identity.user)\n    secret: \(identity.secret)\n"
    }
    if let adminID { text += "admin: \(adminID)\n" }
    let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
    guard fd >= 0 else {
      throw NSDBError(
        .invalidArgument,
        "cannot create the credential file \(path): \(String(cString: strerror(errno)))")
    }
    defer { close(fd) }
    let bytes = Array(text.utf8)
    let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    guard written == bytes.count else {
      throw NSDBError(.invalidArgument, "cannot write the credential file \(path)")
    }
  }

  /// A new random secret: 32 bytes from the system's generator, base64url.
  public static func newSecret() -> String {
    var generator = SystemRandomNumberGenerator()
    let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
    return Data(bytes).base64EncodedString()
      .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
      .replacingOccurrences(of: "=", with: "")
  }
}
