import Logging
import Topology
import ZooKeeper

/// The fence that lets a gateway port change hands faster than a session expires.
///
/// A host that holds a gateway port serves it only up to the end of a lease: the
/// instant it *sent* its last confirmation that its `lease` node is still its own and
/// unfenced, plus the lease length (a few hundred ms, far below the session timeout).
/// The agent renews it several times per lease and its datapath enforces the deadline
/// (Datapath `PortGate`), so a host that stops renewing — frozen, cut off, overloaded —
/// goes silent on its own within one lease.
///
/// A candidate that sees the holder gone (liveness over the tunnels) may not take the
/// port by itself; ZooKeeper stays the fence:
/// 1. ``fence(host:)`` bumps the version of the holder's `lease` node. From then on
///    every confirmation the holder sends says `fenced`.
/// 2. The candidate waits one lease plus a guard: any deadline the holder could still
///    have came from a confirmation sent before the fence, so it has passed.
/// 3. ``evict(host:election:port:)`` deletes the holder's election node (and its port's
///    `active` node), and the election hands the port to the next candidate.
/// A fenced holder that is still alive (a partition of the tunnels only) learns it at
/// its next confirmation, closes its gates, steps down, and asserts a fresh lease node
/// (``renew(host:)``).
///
/// The confirmation is one `exists` on the host's own server. A follower applies the
/// fence a few ms after the leader commits it; the guard covers that lag.
public final class HostLease: Sendable {
  public let client: ZooKeeperClient
  public let paths: NSDBPaths
  let logger: Logger
  let ephemerals: EphemeralNodes

  /// What a confirmation found.
  public enum Confirmation: Sendable, Equatable {
    /// The node is this session's and unfenced: the host may serve until the lease ends.
    case held
    /// Another host fenced it: stop serving, step down, then ``renew(host:)``.
    case fenced
    /// There is no node of this session (not registered yet, or a new session).
    case gone
  }

  public init(client: ZooKeeperClient, paths: NSDBPaths = NSDBPaths(), logger: Logger) {
    self.client = client
    self.paths = paths
    self.logger = logger
    self.ephemerals = EphemeralNodes(client: client, logger: logger)
  }

  /// Creates `host`'s lease node (re-created on every new session).
  public func register(host: ID, waitForStale: Duration? = nil) async throws {
    try await ephemerals.assert(
      paths.hostLease(host), data: Array(host.description.utf8),
      waitForStale: waitForStale ?? client.sessionTimeout * 2)
  }

  /// Whether `host` (this process) still holds an unfenced lease.
  public func confirm(host: ID) async throws -> Confirmation {
    let stat: NodeStat?
    do {
      stat = try await client.exists(paths.hostLease(host))
    } catch {
      throw NSDBError.wrap(error, "cannot confirm the lease of host \(host)")
    }
    guard let stat, stat.ephemeralOwner == client.sessionID else { return .gone }
    return stat.version == 0 ? .held : .fenced
  }

  /// Fences `host`'s lease. Returns false when it has no lease node (its session is gone:
  /// the election moves on by itself).
  public func fence(host: ID) async throws -> Bool {
    do {
      _ = try await client.set(
        paths.hostLease(host), data: Array(host.description.utf8), version: 0)
      logger.info("fenced a host's lease", metadata: ["nsdb.host": "\(host)"])
      return true
    } catch let error as ZooKeeperError where error.code == .badVersion {
      return true
    } catch let error as ZooKeeperError where error.code == .noNode {
      return false
    } catch {
      throw NSDBError.wrap(error, "cannot fence the lease of host \(host)")
    }
  }

  /// After being fenced: a fresh, unfenced lease node of this session.
  public func renew(host: ID) async throws {
    do {
      try await ephemerals.release(paths.hostLease(host))
    } catch {
      throw NSDBError.wrap(error, "cannot renew the lease of host \(host)")
    }
    try await register(host: host, waitForStale: .zero)
  }

  /// Deletes `host`'s node from the election at `election` if it leads it, and `port`'s
  /// `active` node if that session holds it. Call only after ``fence(host:)`` and one
  /// lease plus the guard. Returns whether a leader node was deleted.
  public func evict(host: ID, election: String, port: ID) async throws -> Bool {
    do {
      let names = LeaderElection.ordered(try await client.children(election).children)
      guard let first = names.first else { return false }
      let node = try await client.get(election + "/" + first)
      guard String(decoding: node.data, as: UTF8.self) == host.description else { return false }
      let active = paths.portActive(port)
      if let stat = try await client.exists(active),
        stat.ephemeralOwner == node.stat.ephemeralOwner
      {
        try? await client.delete(active, version: stat.version)
      }
      try await client.delete(election + "/" + first, version: node.stat.version)
      logger.info(
        "evicted a fenced holder from a port election",
        metadata: ["nsdb.host": "\(host)", "nsdb.port": "\(port)"])
      return true
    } catch let error as ZooKeeperError where error.code == .noNode {
      return false
    } catch {
      throw NSDBError.wrap(error, "cannot evict host \(host) from \(election)")
    }
  }
}
