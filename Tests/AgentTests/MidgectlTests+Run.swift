import Foundation
import MidgeTestSupport

/// What the suites that run the built `midgectl` share: one way to run it against a
/// ZooKeeper and a root, and one way to hand it a file.
extension MidgectlTests {
  /// Runs `midgectl arguments --zk zk --root root`, bounded at 60 s.
  static func run(_ zk: String, _ root: String, _ arguments: [String]) -> (
    status: Int32, output: String
  ) {
    runCommand([binary] + arguments + ["--zk", zk, "--root", root], timeout: 60)
  }

  /// `text` in a new temporary file; the caller removes it.
  static func temporaryFile(_ text: String, prefix: String) throws -> String {
    let file = NSTemporaryDirectory() + "\(prefix)-\(UUID().uuidString).yaml"
    try text.write(toFile: file, atomically: true, encoding: .utf8)
    return file
  }
}
