import Foundation
import Glibc
import Logging
import Simulation
import Synchronization
import Topology

/// The local flow-state log: for each local port, the conntrack entries and NAT bindings of
/// the connections through it, appended as `FlowStateMessage` blocks (LZ4-compressed) to
/// `<directory>/<port id>.log`. A restarted agent reads a port's log when it attaches the
/// port again, so connections established before the restart keep their state (a reply
/// still counts as return flow, a NAT mapping still maps back).
///
/// Format: blocks of a 4-byte big-endian length and one message. Reading stops at the first
/// block that is truncated or does not decode (a crash can cut the last write short); what
/// came before it is used.
///
/// A log only grows, but most of what it holds is of connections long gone. Once a log
/// passes a quarter of `maximumBytes` (and twice its size after the last compaction), the
/// agent rewrites it with the entries still alive (`compact`: a new file renamed over the
/// old one, so a crash leaves one or the other whole). A log that still grows past
/// `maximumBytes` (more live connections than it can hold) is started afresh: the
/// connections it forgets re-learn their state from their next forward packet.
///
/// Writes happen on the log's own serial queue, never on the agent's actor: `append`
/// queues the block and returns, and each port's file stays open between writes. A read
/// (`load`) and `flush` wait for the writes queued before them, so a port's log is read
/// back complete. A crash may lose the blocks still queued, as it could lose a write cut
/// short; the connections they described re-learn their state from their next forward
/// packet.
final class FlowStateLog: Sendable {
  let directory: String
  let maximumBytes: Int
  let logger: Logger
  private let queue = DispatchQueue(label: "midge.agent.flow-state-log")
  /// Open files and their sizes, by port; touched only on `queue`.
  private let files = Mutex<[ID: OpenLog]>([:])
  /// Each log's size after its last compaction.
  private let compacted = Mutex<[ID: Int]>([:])

  private struct OpenLog: @unchecked Sendable {
    // FileHandle is used only on the log's queue.
    var handle: FileHandle
    var size: Int
    /// The file's inode when it was opened: a file removed or replaced behind the log's
    /// back is opened afresh rather than written to where no one will read it.
    var inode: UInt64
  }

  /// At most this many files stay open; past it, all are closed and reopened on demand.
  static let openFileLimit = 256

  init(directory: String, maximumBytes: Int = 8 << 20, logger: Logger) {
    self.directory = directory
    self.maximumBytes = maximumBytes
    self.logger = logger
  }

  func path(_ port: ID) -> String { directory + "/" + port.description + ".log" }

  /// Queues `message` for `port`'s log (best effort: a failure is logged, not fatal).
  func append(_ message: [UInt8], port: ID) {
    queue.async { self.write(message, port: port) }
  }

  /// Waits until every queued write is done.
  func flush() {
    queue.sync {}
  }

  /// The open logs due for a compaction: past a quarter of `maximumBytes` and twice their
  /// size after the last one.
  func dueForCompaction() -> [ID] {
    let sizes = files.withLock { $0.mapValues(\.size) }
    let last = compacted.withLock { $0 }
    return sizes.compactMap { port, size in
      size > max(maximumBytes / 4, 2 * (last[port] ?? 0)) ? port : nil
    }.sorted()
  }

  /// Replaces `port`'s log with `messages` (the entries still alive), after the writes
  /// queued before it.
  func compact(_ port: ID, messages: [[UInt8]]) {
    queue.async { self.rewrite(port, messages) }
  }

  private func rewrite(_ port: ID, _ messages: [[UInt8]]) {
    let file = path(port)
    let fresh = file + ".compacting"
    var bytes: [UInt8] = []
    for message in messages { bytes += Self.block(message) }
    let open = files.withLock { $0.removeValue(forKey: port) }
    try? open?.handle.close()
    guard FileManager.default.createFile(atPath: fresh, contents: Data(bytes)),
      rename(fresh, file) == 0
    else {
      unlink(fresh)
      logger.info("cannot compact the flow-state log", metadata: ["agent.file": "\(file)"])
      return
    }
    compacted.withLock { $0[port] = bytes.count }
  }

  /// A length-prefixed block.
  private static func block(_ message: [UInt8]) -> [UInt8] {
    let length = UInt32(message.count)
    return [
      UInt8(length >> 24), UInt8(truncatingIfNeeded: length >> 16),
      UInt8(truncatingIfNeeded: length >> 8), UInt8(truncatingIfNeeded: length),
    ] + message
  }

  /// Closes `port`'s file, if open (its port went away); later writes reopen it.
  func close(_ port: ID) {
    queue.async {
      let open = self.files.withLock { $0.removeValue(forKey: port) }
      try? open?.handle.close()
    }
  }

  private func write(_ message: [UInt8], port: ID) {
    let file = path(port)
    do {
      var log = try files.withLock { $0[port] } ?? open(port, file)
      if Self.inode(of: file) != log.inode {
        try? log.handle.close()
        log = try open(port, file)
      }
      if log.size + 4 + message.count > maximumBytes {
        try? log.handle.close()
        try? FileManager.default.removeItem(atPath: file)
        log = try open(port, file)
      }
      let block = Self.block(message)
      try log.handle.write(contentsOf: Data(block))
      log.size += block.count
      files.withLock { $0[port] = log }
    } catch {
      files.withLock { $0[port] = nil }
      logger.info(
        "cannot write the flow-state log",
        metadata: ["agent.file": "\(file)", "agent.error": "\(error)"])
    }
  }

  private func open(_ port: ID, _ file: String) throws -> OpenLog {
    let count = files.withLock { $0.count }
    if count >= Self.openFileLimit {
      let all = files.withLock { files in
        defer { files = [:] }
        return files
      }
      for open in all.values { try? open.handle.close() }
    }
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    if !FileManager.default.fileExists(atPath: file) {
      _ = FileManager.default.createFile(atPath: file, contents: nil)
    }
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
    let size = Int(try handle.seekToEnd())
    return OpenLog(handle: handle, size: size, inode: Self.inode(of: file) ?? 0)
  }

  /// The inode of `path`, or nil if there is no such file.
  private static func inode(of path: String) -> UInt64? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    return UInt64(info.st_ino)
  }

  /// Every state change in `port`'s log, in the order written.
  func load(_ port: ID) -> [StateChange] {
    flush()
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
