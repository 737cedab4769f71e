import Logging
import Topology
import ZooKeeper

/// How a `PortActivation` (who serves a port) is stored in the port's
/// ephemeral `active` node.
///
/// Encoding (21 bytes, big-endian, fixed so every reader can check it):
///
///     byte 0        format version, 1
///     bytes 1..<9   host ID, high 64 bits
///     bytes 9..<17  host ID, low 64 bits
///     bytes 17..<21 tunnel key (UInt32)
///
/// A reader that sees another version or length treats the port as active
/// but undecodable (``PortState/activeState(_:)`` throws `.corrupt`).
extension PortActivation {
  static let version: UInt8 = 1
  static let length = 21

  public var encoded: [UInt8] {
    var bytes: [UInt8] = [Self.version]
    bytes.reserveCapacity(Self.length)
    for shift in stride(from: 56, through: 0, by: -8) {
      bytes.append(UInt8(truncatingIfNeeded: host.high >> shift))
    }
    for shift in stride(from: 56, through: 0, by: -8) {
      bytes.append(UInt8(truncatingIfNeeded: host.low >> shift))
    }
    for shift in stride(from: 24, through: 0, by: -8) {
      bytes.append(UInt8(truncatingIfNeeded: tunnelKey >> shift))
    }
    return bytes
  }

  public init?(decoding bytes: [UInt8]) {
    guard bytes.count == Self.length, bytes[0] == Self.version else { return nil }
    func integer(_ range: Range<Int>) -> UInt64 {
      bytes[range].reduce(0) { $0 << 8 | UInt64($1) }
    }
    self.init(
      host: ID(high: integer(1..<9), low: integer(9..<17)), tunnelKey: UInt32(integer(17..<21)))
  }
}

/// A port's runtime key `active`: the ephemeral node that says which host
/// serves the (exterior) port. Routes via the port exist only while it is
/// active, so a host dying — its session ending — withdraws them: this is
/// how uplink failover works. The serving agent keeps the node asserted
/// across session expiries.
public final class PortState: Sendable {
  public let client: ZooKeeperClient
  public let paths: NSDBPaths
  let logger: Logger
  let ephemerals: EphemeralNodes

  public init(client: ZooKeeperClient, paths: NSDBPaths = NSDBPaths(), logger: Logger) {
    self.client = client
    self.paths = paths
    self.logger = logger
    self.ephemerals = EphemeralNodes(client: client, logger: logger)
  }

  /// Marks `port` served by `host` with `tunnelKey`. Fails with
  /// ``NSDBError/Code/heldByAnotherSession`` if another session still
  /// serves it after `waitForStale` (default: do not wait — a port moves
  /// between hosts by the old one deactivating or dying, not by stealing).
  ///
  /// Except when the port is bound to `host` (`Port.hostId`): the session that holds it
  /// then serves a binding that has moved here (an apply moved the port from one host to
  /// another, and the old host has not detached it yet) or that died with it. Either lets
  /// go — the old host when it sees the move, a dead one's session when it expires — so
  /// `host` waits for that, up to one and a half session timeouts, instead of failing and
  /// leaving the port active nowhere once the old host has let go.
  public func activate(
    port: ID, host: ID, tunnelKey: UInt32, waitForStale: Duration = .zero
  ) async throws {
    let activation = PortActivation(host: host, tunnelKey: tunnelKey)
    let path = paths.portActive(port)
    let handover = client.sessionTimeout * 1.5
    do {
      try await ephemerals.assert(path, data: activation.encoded, waitForStale: waitForStale)
    } catch let error as NSDBError
      where error.code == .heldByAnotherSession && waitForStale < handover
    {
      guard try await isBound(port, to: host) else { throw error }
      logger.info(
        "port still active on its previous host; waiting for it to let go",
        metadata: ["nsdb.port": "\(port)", "nsdb.host": "\(host)"])
      try await ephemerals.assert(path, data: activation.encoded, waitForStale: handover)
    }
    logger.info(
      "port active",
      metadata: ["nsdb.port": "\(port)", "nsdb.host": "\(host)", "nsdb.tunnel_key": "\(tunnelKey)"])
  }

  /// Whether the stored port is bound to `host` (false when it is absent or undecodable).
  func isBound(_ port: ID, to host: ID) async throws -> Bool {
    let data: [UInt8]
    do {
      data = try await client.get(paths.object(.port, port)).data
    } catch let error as ZooKeeperError where error.code == .noNode {
      return false
    } catch {
      throw NSDBError.wrap(error, "cannot read port \(port)")
    }
    return (try? ModelCodec.decode(Port.self, data, id: port))?.hostId == host
  }

  /// Withdraws this session's activation of `port` (no-op if another
  /// session serves it).
  public func deactivate(port: ID) async throws {
    if try await ephemerals.release(paths.portActive(port)) {
      logger.info("port inactive", metadata: ["nsdb.port": "\(port)"])
    }
  }

  /// Who serves `port` now; nil when it is inactive.
  public func activeState(_ port: ID) async throws -> PortActivation? {
    let path = paths.portActive(port)
    let data: [UInt8]
    do {
      data = try await client.get(path).data
    } catch let error as ZooKeeperError where error.code == .noNode {
      return nil
    } catch {
      throw NSDBError.wrap(error, "cannot read \(path)")
    }
    guard let activation = PortActivation(decoding: data) else {
      throw NSDBError(.corrupt, "\(path) holds \(data.count) undecodable bytes")
    }
    return activation
  }

  /// Who serves `port`, now and after every change (nil: inactive; an
  /// undecodable node also reads as nil, and is logged).
  public func watchActive(_ port: ID) -> AsyncThrowingStream<PortActivation?, any Error> {
    let logger = logger
    return .distinct(client.watchData(paths.portActive(port))) { state in
      guard let data = state.data else { return nil }
      guard let activation = PortActivation(decoding: data) else {
        logger.info("undecodable port activation", metadata: ["nsdb.port": "\(port)"])
        return nil
      }
      return activation
    }
  }
}
