import Foundation

/// A request to the control API: `GET /path?query`.
public struct ControlRequest: Sendable, Hashable {
  public var path: String
  public var query: [String: String]

  public init(path: String, query: [String: String] = [:]) {
    self.path = path
    self.query = query
  }

  /// Splits a request target (`/trace?port=vm1&packet=tcp+10.0.0.2:1+>+10.0.0.3:80`) into
  /// its path and query. Total: any string gives a request; pairs without a key are
  /// skipped, a key without `=` has an empty value, `+` is a space, and a percent escape
  /// that does not decode is kept as it was. Of a key given twice the last one counts.
  public init(target: String) {
    let pieces = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
    var query: [String: String] = [:]
    if pieces.count == 2 {
      for pair in pieces[1].split(separator: "&") {
        let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        guard let rawKey = kv.first, !rawKey.isEmpty else { continue }
        let rawValue = kv.count == 2 ? kv[1] : ""
        query[Self.decode(rawKey)] = Self.decode(rawValue)
      }
    }
    let path = String(pieces.first ?? "")
    self.init(path: path.removingPercentEncoding ?? path, query: query)
  }

  private static func decode(_ text: Substring) -> String {
    let spaced = text.replacingOccurrences(of: "+", with: " ")
    return spaced.removingPercentEncoding ?? spaced
  }
}

/// A control API answer.
public struct ControlResponse: Sendable {
  public var status: Int
  public var contentType: String
  public var body: String

  public init(status: Int = 200, contentType: String = "application/json", body: String) {
    self.status = status
    self.contentType = contentType
    self.body = body
  }
}
