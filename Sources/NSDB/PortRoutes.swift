import Logging
import Topology
import ZooKeeper

/// A port's runtime key `routes`: the routes an agent learned through the
/// port (from a routing protocol on an uplink, say), as one ephemeral node
/// owned by the publishing session.
///
/// Why ephemeral: learned routes are only true while the agent that learned
/// them runs. Its session ending withdraws them with no clean-up pass, just
/// as a port's `active` does. The publisher keeps the node asserted across
/// session expiries (``EphemeralNodes``), so an agent that is still running
/// re-publishes on its new session.
///
/// Why one node for the whole list rather than one child per route: the
/// publisher always replaces the full set it learned, and readers act on the
/// full set. One node gives an atomic swap and one data watch per port.
///
/// Encoding (``encode(_:)``), big-endian:
///
///     byte 0        format version, 1
///     bytes 1..<5   route count (UInt32)
///     then per route: length (UInt32), then the Route's protobuf bytes
///
/// Each route is framed with the model's own wire codec, so a newer writer's
/// extra Route fields are tolerated by older readers. Anything else — another
/// version, a length past the end, trailing bytes, an undecodable route —
/// reads as ``NSDBError/Code/corrupt``.
public final class PortRoutes: Sendable {
  public let client: ZooKeeperClient
  public let paths: NSDBPaths
  let logger: Logger
  let ephemerals: EphemeralNodes

  static let version: UInt8 = 1
  /// Below ZooKeeper's default 1 MiB node limit, with room for the request.
  static let maxEncodedSize = 1_000_000

  public init(client: ZooKeeperClient, paths: NSDBPaths = NSDBPaths(), logger: Logger) {
    self.client = client
    self.paths = paths
    self.logger = logger
    self.ephemerals = EphemeralNodes(client: client, logger: logger)
  }

  /// Publishes `routes` as the learned routes of `port`, replacing what this
  /// session published before. Fails with
  /// ``NSDBError/Code/heldByAnotherSession`` if another session still
  /// publishes routes for the port after `waitForStale` (default: do not
  /// wait; the port's serving host is the only publisher).
  public func publish(port: ID, routes: [Route], waitForStale: Duration = .zero) async throws {
    let data = try Self.encode(routes)
    try await ephemerals.assert(paths.portRoutes(port), data: data, waitForStale: waitForStale)
    logger.info(
      "port routes published", metadata: ["nsdb.port": "\(port)", "nsdb.routes": "\(routes.count)"])
  }

  /// Withdraws this session's routes of `port` (no-op if another session
  /// publishes them).
  public func withdraw(port: ID) async throws {
    if try await ephemerals.release(paths.portRoutes(port)) {
      logger.info("port routes withdrawn", metadata: ["nsdb.port": "\(port)"])
    }
  }

  /// The learned routes of `port` now; empty when none are published.
  public func routes(_ port: ID) async throws -> [Route] {
    let path = paths.portRoutes(port)
    let data: [UInt8]
    do {
      data = try await client.get(path).data
    } catch let error as ZooKeeperError where error.code == .noNode {
      return []
    } catch {
      throw NSDBError.wrap(error, "cannot read \(path)")
    }
    return try Self.decode(data, path: path)
  }

  /// The learned routes of `port`, now and after every change (empty: none
  /// published). Undecodable bytes end the stream with
  /// ``NSDBError/Code/corrupt``: silently reading them as "no routes" would
  /// withdraw routes nobody withdrew.
  public func watchRoutes(_ port: ID) -> AsyncThrowingStream<[Route], any Error> {
    let path = paths.portRoutes(port)
    return .distinct(client.watchData(path)) { state in
      guard let data = state.data else { return [] }
      return try Self.decode(data, path: path)
    }
  }

  /// `routes` in the versioned framing described on the type.
  static func encode(_ routes: [Route]) throws(NSDBError) -> [UInt8] {
    var bytes: [UInt8] = [version]
    append(UInt32(routes.count), to: &bytes)
    for route in routes {
      let encoded: [UInt8]
      do {
        encoded = try route.wireBytes()
      } catch {
        throw NSDBError(.invalidArgument, "cannot encode route \(route.id): \(error)")
      }
      append(UInt32(encoded.count), to: &bytes)
      bytes += encoded
    }
    guard bytes.count <= maxEncodedSize else {
      throw NSDBError(
        .invalidArgument,
        "\(routes.count) routes take \(bytes.count) bytes, over the \(maxEncodedSize)-byte node limit"
      )
    }
    return bytes
  }

  /// Decodes what ``encode(_:)`` wrote; every malformation is `.corrupt`
  /// naming `path`, never a trap.
  static func decode(_ bytes: [UInt8], path: String) throws(NSDBError) -> [Route] {
    func corrupt(_ why: String) -> NSDBError {
      NSDBError(.corrupt, "\(path) holds \(bytes.count) undecodable bytes: \(why)")
    }
    guard let first = bytes.first else { throw corrupt("empty") }
    guard first == version else { throw corrupt("unknown format version \(first)") }
    var offset = 1
    func integer() throws(NSDBError) -> Int {
      guard bytes.count - offset >= 4 else { throw corrupt("truncated at byte \(offset)") }
      let value = bytes[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) }
      offset += 4
      return value
    }
    let count = try integer()
    // Each route takes at least its 4-byte length: a larger count is a lie,
    // and checking it first keeps `reserveCapacity` bounded.
    guard count <= (bytes.count - offset) / 4 else {
      throw corrupt("claims \(count) routes")
    }
    var routes: [Route] = []
    routes.reserveCapacity(count)
    for index in 0..<count {
      let length = try integer()
      guard length <= bytes.count - offset else {
        throw corrupt("route \(index) claims \(length) bytes past the end")
      }
      do {
        routes.append(try Route(wireBytes: Array(bytes[offset..<offset + length])))
      } catch {
        throw corrupt("route \(index): \(error)")
      }
      offset += length
    }
    guard offset == bytes.count else { throw corrupt("\(bytes.count - offset) trailing bytes") }
    return routes
  }

  private static func append(_ value: UInt32, to bytes: inout [UInt8]) {
    for shift in stride(from: 24, through: 0, by: -8) {
      bytes.append(UInt8(truncatingIfNeeded: value >> shift))
    }
  }
}
