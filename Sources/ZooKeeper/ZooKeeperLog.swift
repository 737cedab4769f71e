import CZooKeeper
import Logging
import Synchronization

/// Sends the C library's log lines into swift-log.
///
/// The C log callback carries no context, so one process-wide logger receives
/// every handle's lines; the most recently created client sets it. Nothing is
/// written to stderr: every handle is created with this callback. Repeated lines
/// (a retry loop while a server is down) are rate-limited per source location.
enum ZooKeeperLog {
  private static let sink = Mutex<Logger?>(nil)
  private static let limiter = Mutex(LogRateLimiter())

  static func install(_ logger: Logger) {
    sink.withLock { $0 = logger }
    let level: ZooLogLevel
    switch logger.logLevel {
    case .trace: level = ZOO_LOG_LEVEL_DEBUG
    case .debug: level = ZOO_LOG_LEVEL_INFO
    default: level = ZOO_LOG_LEVEL_WARN
    }
    zoo_set_debug_level(level)
  }

  /// The library formats `time:pid(thread):ZOO_LEVEL@function@line: text`.
  static func emit(_ line: String) {
    guard let logger = sink.withLock({ $0 }) else { return }
    let kind = LogRateLimiter.kind(of: line)
    guard let suppressed = limiter.withLock({ $0.admit(kind, now: .now) }) else { return }
    var metadata: Logger.Metadata = ["zk.source": "libzookeeper"]
    if suppressed > 0 { metadata["zk.suppressed"] = "\(suppressed)" }
    let level: Logger.Level
    if line.contains("ZOO_ERROR@") || line.contains("ZOO_WARN@") {
      level = .info
    } else if line.contains("ZOO_INFO@") {
      level = .debug
    } else {
      level = .trace
    }
    logger.log(level: level, "\(line)", metadata: metadata)
  }

  static let callback: log_callback_fn = { message in
    guard let message else { return }
    ZooKeeperLog.emit(String(cString: message))
  }
}
