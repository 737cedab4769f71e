import Foundation
import Logging
import Simulation
import Topology

/// The local flow-state log: for each local port, the conntrack entries and NAT bindings of
/// the connections through it, appended as `FlowStateMessage` blocks (LZ4-compressed) to
/// `<directory>/<port id>.log`. A restarted agent reads a port's log when it attaches the
/// port again, so connections established before the restart keep their state (a reply
/// still counts as return flow, a NAT mapping still maps back).
///
/// Format: blocks of a 4-byte big-endian length and one message. Reading stops at the first
/// block that is truncated or does not decode (a crash can cut the last write short); what
/// came before it is used. A log that grows past `maximumBytes` is started afresh: the
/// connections it forgets re-learn their state from their next forward packet.
final class FlowStateLog: Sendable {
  let directory: String
  let maximumBytes: Int
  let logger: Logger

  init(directory: String, maximumBytes: Int = 8 << 20, logger: Logger) {
    self.directory = directory
    self.maximumBytes = maximumBytes
    self.logger = logger
  }

  func path(_ port: ID) -> String { directory + "/" + port.description + ".log" }

  /// Appends `message` to `port`'s log (best effort: a failure is logged, not fatal).
  func append(_ message: [UInt8], port: ID) {
    let file = path(port)
    do {
      try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
      if let size = try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int,
        size + message.count > maximumBytes
      {
        try? FileManager.default.removeItem(atPath: file)
      }
      if !FileManager.default.fileExists(atPath: file) {
        _ = FileManager.default.createFile(atPath: file, contents: nil)
      }
      let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
      defer { try? handle.close() }
      try handle.seekToEnd()
      let length = UInt32(message.count)
      var block = [
        UInt8(length >> 24), UInt8(truncatingIfNeeded: length >> 16),
        UInt8(truncatingIfNeeded: length >> 8), UInt8(truncatingIfNeeded: length),
      ]
      block += message
      try handle.write(contentsOf: Data(block))
    } catch {
      logger.info(
        "cannot write the flow-state log",
        metadata: ["agent.file": "\(file)", "agent.error": "\(error)"])
    }
  }

  /// Every state change in `port`'s log, in the order written.
  func load(_ port: ID) -> [StateChange] {
    guard let data = FileManager.default.contents(atPath: path(port)) else { return [] }
    let bytes = [UInt8](data)
    var offset = 0
    var changes: [StateChange] = []
    while offset + 4 <= bytes.count {
      let length =
        Int(bytes[offset]) << 24 | Int(bytes[offset + 1]) << 16 | Int(bytes[offset + 2]) << 8
        | Int(bytes[offset + 3])
      guard length > 0, offset + 4 + length <= bytes.count,
        let block = try? FlowStateMessage.decode(Array(bytes[offset + 4..<offset + 4 + length]))
      else {
        logger.info(
          "flow-state log ends in a damaged block; using what came before it",
          metadata: ["agent.file": "\(path(port))", "agent.offset": "\(offset)"])
        break
      }
      changes += block
      offset += 4 + length
    }
    return changes
  }
}
