// libFuzzer harness for the control API's request targets: whatever follows `GET ` on a
// request line reaches `ControlRequest(target:)` ("/trace?port=vm1&packet=tcp+...").
//
// ControlRequest.swift is a symlink to Sources/Agent: it needs only Foundation, so the
// harness compiles it alone instead of the agent with SwiftNIO.
//
// Invariants, besides "never traps": the parsed request, written back as a target with
// every reserved character percent-escaped, parses to the same request; and a request
// with no query has its whole target as the path.
import Foundation
import FuzzSupport

runFuzzer { bytes in
  let target = text(bytes)
  let request = ControlRequest(target: target)
  let written = Escape.target(request)
  let again = ControlRequest(target: written)
  require(again == request, "'\(written)' parses to \(again), not \(request)")
  if !target.contains("?") && !target.contains("%") {
    require(request.path == target && request.query.isEmpty, "'\(target)' lost its path")
  }
}

/// Percent-escaping with an explicit ASCII set: Foundation's `.alphanumerics` would also
/// pass every Unicode letter, which is harmless here but not what a client sends.
enum Escape {
  static let unreserved = CharacterSet(
    charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
  static let pathCharacters = unreserved.union(CharacterSet(charactersIn: "/"))

  static func target(_ request: ControlRequest) -> String {
    let path = request.path.addingPercentEncoding(withAllowedCharacters: pathCharacters)!
    guard !request.query.isEmpty else { return path }
    let pairs = request.query.sorted { $0.key < $1.key }.map { key, value in
      key.addingPercentEncoding(withAllowedCharacters: unreserved)! + "="
        + value.addingPercentEncoding(withAllowedCharacters: unreserved)!
    }
    return path + "?" + pairs.joined(separator: "&")
  }
}
