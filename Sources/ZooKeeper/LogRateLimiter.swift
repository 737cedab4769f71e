/// Lets through the first line of each kind per window and counts the rest. Used for
/// the C library's log here, and by the agent for errors that repeat while ZooKeeper is
/// unreachable.
///
/// While a server is down the C library logs a connection error for every retry,
/// about 60 lines a second; an operator needs to see that it happens and how often,
/// not every line. A kind is the line's source location (`ZOO_ERROR@function@line`), so
/// different problems are never folded into one. No IO here: the caller logs what
/// ``admit(_:now:)`` lets through, with the number of lines held back since the last.
public struct LogRateLimiter: Sendable {
  struct Kind: Sendable {
    var windowStart: ContinuousClock.Instant
    var suppressed = 0
  }

  /// How long a kind stays quiet after a line of it was let through.
  public let window: Duration
  private(set) var kinds: [String: Kind] = [:]

  public init(window: Duration = .seconds(10)) { self.window = window }

  /// nil: hold the line back. Otherwise let it through, and say how many lines of its
  /// kind were held back before it.
  public mutating func admit(_ kind: String, now: ContinuousClock.Instant) -> Int? {
    if var state = kinds[kind], now - state.windowStart < window {
      state.suppressed += 1
      kinds[kind] = state
      return nil
    }
    let suppressed = kinds[kind]?.suppressed ?? 0
    kinds[kind] = Kind(windowStart: now)
    if kinds.count > 1024 { kinds = kinds.filter { now - $0.value.windowStart < window } }
    return suppressed
  }

  /// The kind of a library line: `ZOO_LEVEL@function@line`, or the whole line.
  public static func kind(of line: String) -> String {
    guard let start = line.firstRange(of: "ZOO_") else { return line }
    let rest = line[start.lowerBound...]
    return String(rest.prefix { $0 != ":" })
  }
}
