import Logging
import Synchronization
import ZooKeeper

/// Leader election among hosts that can serve the same thing (a gateway or
/// uplink port), on ephemeral-sequential candidate nodes.
///
/// Design
/// ------
/// Each candidate creates `<election>/c-<token>-<sequence>` (ephemeral,
/// sequential; data = the candidate's identity, e.g. its host ID). The
/// candidate with the lowest sequence leads. Every other candidate watches
/// *only its predecessor* (the next-lower node): when that node goes, only
/// one candidate wakes up and re-reads, instead of all of them (the "herd
/// effect" of everyone watching the leader or the children list). If the
/// predecessor left but the leader did not, the woken candidate simply finds
/// a new predecessor and watches it; if the predecessor was the leader, the
/// candidate is now first and leads. So leadership passes down the line in
/// join order, and the candidates behind are never disturbed.
///
/// The `<token>` (random per election instance) lets a candidate recognise
/// its own node when a `create` lost its connection and the outcome is
/// unknown, instead of leaving an orphan that would lead for nobody.
///
/// Sessions and "not sure"
/// -----------------------
/// ZooKeeper only knows leaders through sessions. When the connection drops
/// the client cannot tell whether its session is still alive; the servers
/// expire it one session timeout after they last heard from it, and then
/// the next candidate takes over — while the old leader may still think it
/// leads. Hence ``Leadership/suspended``: "not sure". A leader that sees
/// `suspended` must stop acting as leader (stop answering ARP for the
/// gateway, stop announcing routes) *before* the session timeout runs out,
/// or two hosts will serve at once. The C client only notices a dead
/// connection after about two thirds of the session timeout, so the safe
/// policy is to stop at once on `suspended` and resume on `leader`.
/// On `reconnected` the session (and node) survived and the candidate
/// re-reads its position. On `expired` the node is gone: the candidate
/// reports ``Leadership/out`` and re-joins — at the back of the line — as
/// soon as the new session is connected.
public enum Leadership: Sendable, Hashable {
  /// Not a candidate: not joined yet, stepped down, or between a session
  /// expiry and re-joining.
  case out
  /// A candidate behind another one.
  case follower
  /// The lowest candidate: act as leader.
  case leader
  /// Disconnected: the session may or may not be alive. Do not act as leader.
  case suspended
}

public final class LeaderElection: Sendable {
  public let client: ZooKeeperClient
  /// The election's node (`NSDBPaths.election(name)`).
  public let path: String
  /// This candidate's identity, stored as its node's data.
  public let candidate: String
  let logger: Logger
  /// Prefix of this instance's node names.
  let prefix: String

  enum Wake: Sendable {
    case recheck
    case session(SessionEvent)
    case stepDown(rejoin: Bool, done: CheckedContinuation<Void, Never>)
  }

  struct State {
    var leadership: Leadership = .out
    var subscribers: [UInt64: AsyncStream<Leadership>.Continuation] = [:]
    var nextSubscriber: UInt64 = 0
    var wakes: AsyncStream<Wake>.Continuation?
    var ownNode: String?
  }

  let state = Mutex(State())

  public init(client: ZooKeeperClient, path: String, candidate: String, logger: Logger) {
    self.client = client
    self.path = path
    self.candidate = candidate
    self.logger = logger
    self.prefix = "c-" + String(UInt64.random(in: 0...UInt64.max), radix: 16) + "-"
  }

  public convenience init(
    client: ZooKeeperClient, paths: NSDBPaths = NSDBPaths(), name: String, candidate: String,
    logger: Logger
  ) {
    self.init(client: client, path: paths.election(name), candidate: candidate, logger: logger)
  }

  deinit {
    let subscribers = state.withLock { $0.subscribers.values }
    for subscriber in subscribers { subscriber.finish() }
  }

  var metadata: Logger.Metadata {
    ["nsdb.election": "\(path)", "nsdb.candidate": "\(candidate)"]
  }

  /// This candidate's position now.
  public var leadership: Leadership { state.withLock { $0.leadership } }

  /// True only while this candidate leads and is connected.
  public var isLeader: Bool { leadership == .leader }

  /// The leadership now, then every change. Ends when the client is closed.
  public func updates() -> AsyncStream<Leadership> {
    let (stream, continuation) = AsyncStream<Leadership>.makeStream()
    let token = state.withLock { state in
      let token = state.nextSubscriber
      state.nextSubscriber += 1
      state.subscribers[token] = continuation
      continuation.yield(state.leadership)
      return token
    }
    continuation.onTermination = { [weak self] _ in
      _ = self?.state.withLock { $0.subscribers.removeValue(forKey: token) }
    }
    return stream
  }

  /// Becomes a candidate (no-op if already one) and waits until the
  /// candidate node exists, i.e. leadership is `leader` or `follower`.
  /// The election holds itself until ``stepDown(rejoin:)`` with
  /// `rejoin: false` or the client's close.
  public func join() async throws {
    let positions = updates()
    let start = state.withLock { state -> AsyncStream<Wake>? in
      guard state.wakes == nil else { return nil }
      let (wakes, continuation) = AsyncStream<Wake>.makeStream()
      state.wakes = continuation
      return wakes
    }
    if let start {
      logger.info("joining leader election", metadata: metadata)
      let sessions = client.sessionEvents()
      Task { await self.run(start, sessions: sessions) }
    }
    for await position in positions where position == .leader || position == .follower {
      return
    }
    throw NSDBError(.closed, "the ZooKeeper client was closed while joining \(path)")
  }

  /// Deletes this candidate's node, handing leadership to the next one.
  /// With `rejoin` the candidate joins again at the back of the line;
  /// without, it leaves the election (``join()`` may be called again).
  public func stepDown(rejoin: Bool = true) async {
    await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
      let wakes = state.withLock { $0.wakes }
      guard let wakes else { return done.resume() }
      if case .terminated = wakes.yield(.stepDown(rejoin: rejoin, done: done)) { done.resume() }
    }
  }

  /// The identity (node data) of the current leader, nil when there are no
  /// candidates.
  public func currentLeader() async throws -> String? {
    for _ in 0..<10 {
      guard let first = try await orderedCandidates().first else { return nil }
      do {
        return String(decoding: try await client.get(path + "/" + first).data, as: UTF8.self)
      } catch let error as ZooKeeperError where error.code == .noNode {
        continue  // the leader just left: read again
      } catch {
        throw NSDBError.wrap(error, "cannot read the leader of \(path)")
      }
    }
    throw NSDBError(.zookeeper, "the leader of \(path) keeps changing")
  }

  /// Candidate node names, lowest sequence (the leader) first.
  func orderedCandidates() async throws -> [String] {
    let names: [String]
    do {
      names = try await client.children(path).children
    } catch let error as ZooKeeperError where error.code == .noNode {
      return []
    } catch {
      throw NSDBError.wrap(error, "cannot list the candidates of \(path)")
    }
    return Self.ordered(names)
  }

  static func sequence(_ name: String) -> Int64? {
    guard let dash = name.lastIndex(of: "-") else { return nil }
    return Int64(name[name.index(after: dash)...])
  }

  static func ordered(_ names: [String]) -> [String] {
    names.compactMap { name in sequence(name).map { (name, $0) } }
      .sorted { $0.1 < $1.1 }.map(\.0)
  }

  func publish(_ leadership: Leadership) {
    let subscribers = state.withLock { state -> [AsyncStream<Leadership>.Continuation]? in
      guard state.leadership != leadership else { return nil }
      state.leadership = leadership
      return Array(state.subscribers.values)
    }
    guard let subscribers else { return }
    var meta = metadata
    meta["nsdb.leadership"] = "\(leadership)"
    logger.info("leadership changed", metadata: meta)
    for subscriber in subscribers { subscriber.yield(leadership) }
  }
}
