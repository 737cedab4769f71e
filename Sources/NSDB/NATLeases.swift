import Addresses
import Logging
import Topology
import ZooKeeper

/// Cluster-wide leases of source-NAT port blocks (`Simulation.NATBlock`).
///
/// A lease is an ephemeral node `state/nat/<address>/<block>` holding the host's id:
/// ZooKeeper's create is the arbiter, so of two hosts that ask for one block, one gets it
/// and the other moves on to the next. The node lives as long as the host's session, and
/// is written again after a session expiry while the host still asserts it (a block
/// another host took meanwhile is given up, and `onLost` is told). A host takes a lease
/// before it makes a binding from the block, and releases it when the block's last
/// binding expired. A host that has bindings of a block it did not lease (restored from
/// its log, or handed over with a port that moved to it) `adopt`s the block: it leases
/// it if it is free, or learns who holds it.
public final class NATLeases: Sendable {
  public let client: ZooKeeperClient
  public let paths: NSDBPaths
  let logger: Logger
  let ephemerals: EphemeralNodes

  public init(
    client: ZooKeeperClient, paths: NSDBPaths = NSDBPaths(), logger: Logger,
    onLost: (@Sendable (NATBlock) -> Void)? = nil
  ) {
    self.client = client
    self.paths = paths
    self.logger = logger
    let prefix = paths.natLeases("")
    self.ephemerals = EphemeralNodes(client: client, logger: logger) { path in
      guard let onLost, let block = Self.block(path: path, prefix: prefix) else { return }
      onLost(block)
    }
  }

  /// The block a lease path names (`<prefix><address>/<block>`).
  static func block(path: String, prefix: String) -> NATBlock? {
    guard path.hasPrefix(prefix) else { return nil }
    let parts = path.dropFirst(prefix.count).split(separator: "/")
    guard parts.count == 2, let address = try? IPv4Address(parsing: parts[0]),
      let index = UInt16(parts[1]), index < 1024
    else { return nil }
    return NATBlock(address: address, index: index)
  }

  /// Leases `block` to `host` if no host holds it; returns who holds it now (nil if the
  /// holder's node vanished between the two questions: ask again).
  public func adopt(host: ID, block: NATBlock) async throws -> ID? {
    let path = paths.natLease(block.address.description, block: block.index)
    do {
      try await ephemerals.assert(path, data: Array(host.description.utf8), waitForStale: .zero)
      return host
    } catch let error as NSDBError where error.code == .heldByAnotherSession {
      do {
        return ID(String(decoding: try await client.get(path).data, as: UTF8.self))
      } catch let error as ZooKeeperError where error.code == .noNode {
        return nil
      } catch {
        throw NSDBError.wrap(error, "cannot read the NAT lease \(path)")
      }
    }
  }

  /// Leases the first block of `indices` for `address` that no host holds to `host`, and
  /// returns it; nil when every one is held (by another host, or already by this one).
  public func lease(host: ID, address: IPv4Address, indices: [UInt16]) async throws -> NATBlock? {
    let data = Array(host.description.utf8)
    for index in indices {
      let path = paths.natLease(address.description, block: index)
      guard !ephemerals.isAsserted(path) else { continue }  // already ours: not a new one
      do {
        try await ephemerals.assert(path, data: data, waitForStale: .zero)
        logger.debug(
          "leased a NAT port block",
          metadata: ["nsdb.address": "\(address)", "nsdb.block": "\(index)"])
        return NATBlock(address: address, index: index)
      } catch let error as NSDBError where error.code == .heldByAnotherSession {
        continue
      }
    }
    return nil
  }

  /// Gives `block` back (if this session holds it).
  public func release(_ block: NATBlock) async throws {
    try await ephemerals.release(paths.natLease(block.address.description, block: block.index))
  }

  /// Who holds which block of `address`.
  public func holders(of address: IPv4Address) async throws -> [UInt16: ID] {
    let parent = paths.natLeases(address.description)
    let children: [String]
    do {
      children = try await client.children(parent).children
    } catch let error as ZooKeeperError where error.code == .noNode {
      return [:]
    } catch {
      throw NSDBError.wrap(error, "cannot list the NAT leases of \(address)")
    }
    var result: [UInt16: ID] = [:]
    for child in children {
      guard let index = UInt16(child) else { continue }
      do {
        let node = try await client.get(parent + "/" + child)
        if let id = ID(String(decoding: node.data, as: UTF8.self)) { result[index] = id }
      } catch let error as ZooKeeperError where error.code == .noNode {
        continue
      } catch {
        throw NSDBError.wrap(error, "cannot read a NAT lease of \(address)")
      }
    }
    return result
  }
}
