/// A session's identity written down, so another process can close the session after
/// its owner died (the agent writes it; `midge-supervisor` reads it). Three lines:
///
///     zookeeper=HOST:PORT,...
///     session=<session id, 16 hex digits>
///     password=<the session password, hex>
public struct SessionFile: Sendable, Hashable {
  public var zookeeper: String
  public var credentials: SessionCredentials

  public init(zookeeper: String, credentials: SessionCredentials) {
    self.zookeeper = zookeeper
    self.credentials = credentials
  }

  /// Parses what ``text`` wrote; nil for anything else (a half-written or foreign file).
  public init?(parsing text: String) {
    var fields: [Substring: Substring] = [:]
    for line in text.split(separator: "\n") {
      guard let equals = line.firstIndex(of: "=") else { return nil }
      fields[line[..<equals]] = line[line.index(after: equals)...]
    }
    guard let zookeeper = fields["zookeeper"], !zookeeper.isEmpty,
      let session = fields["session"], let id = UInt64(session, radix: 16),
      let password = fields["password"], let bytes = Self.bytes(hex: password), !bytes.isEmpty
    else { return nil }
    self.init(
      zookeeper: String(zookeeper),
      credentials: SessionCredentials(sessionID: Int64(bitPattern: id), password: bytes))
  }

  public var text: String {
    let id = String(UInt64(bitPattern: credentials.sessionID), radix: 16)
    let hex = credentials.password.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    return "zookeeper=\(zookeeper)\nsession=\(id)\npassword=\(hex)\n"
  }

  private static func bytes(hex: Substring) -> [UInt8]? {
    guard hex.count % 2 == 0, hex.count <= 64 else { return nil }
    var bytes: [UInt8] = []
    var index = hex.startIndex
    while index < hex.endIndex {
      let next = hex.index(index, offsetBy: 2)
      guard let byte = UInt8(hex[index..<next], radix: 16) else { return nil }
      bytes.append(byte)
      index = next
    }
    return bytes
  }
}
