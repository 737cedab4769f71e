import Foundation
import Logging
import Topology
import ZooKeeper

/// The keys that authenticate the messages agents send each other over the tunnels
/// (flow state), one list per tunnel zone at `<root>/v1/keys/<zone id>`: readable by
/// agents, written by the administrator (`midgectl tunnel-key rotate`).
///
/// A list holds at most two keys: the one agents sign with, and the one before it, which
/// they still accept. A rotation therefore goes in two steps, so that no message is
/// refused while the news spreads: first the new key is added as accepted only; once
/// every agent has had time to see it, it becomes the signing key, and the key before the
/// previous one goes.
public struct TunnelKeyList: Sendable, Hashable, Codable {
  public struct Key: Sendable, Hashable, Codable {
    /// Carried in each message so the receiver knows which key to check it with.
    public var id: UInt8
    /// 32 random bytes, base64.
    public var secret: String
    /// Whether agents sign with it (exactly one key signs).
    public var signs: Bool

    public init(id: UInt8, secret: String, signs: Bool) {
      self.id = id
      self.secret = secret
      self.signs = signs
    }

    /// The secret's bytes (nil if it is not base64 of at least 16 bytes).
    public var bytes: [UInt8]? {
      guard let data = Data(base64Encoded: secret), data.count >= 16 else { return nil }
      return Array(data)
    }
  }

  public var keys: [Key]

  public init(keys: [Key] = []) { self.keys = keys }

  /// The key messages are signed with.
  public var signing: Key? { keys.first(where: \.signs) }

  /// Step one of a rotation: a new key, accepted but not yet signing; older keys beyond
  /// the signing one go.
  public func adding(secret: String) -> TunnelKeyList {
    let next = UInt8(truncatingIfNeeded: (keys.map(\.id).max() ?? 0) &+ 1)
    var kept = keys.filter(\.signs)
    if kept.isEmpty { return TunnelKeyList(keys: [Key(id: next, secret: secret, signs: true)]) }
    kept.append(Key(id: next, secret: secret, signs: false))
    return TunnelKeyList(keys: kept)
  }

  /// Step two: the newest key signs; the one before it is still accepted.
  public func promotingNewest() -> TunnelKeyList {
    guard let newest = keys.map(\.id).max() else { return self }
    return TunnelKeyList(
      keys: keys.map { Key(id: $0.id, secret: $0.secret, signs: $0.id == newest) })
  }

  public func encoded() throws -> [UInt8] {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return Array(try encoder.encode(self))
  }

  public static func decode(_ bytes: [UInt8], path: String) throws -> TunnelKeyList {
    do {
      return try JSONDecoder().decode(TunnelKeyList.self, from: Data(bytes))
    } catch {
      throw NSDBError(.corrupt, "\(path) does not hold a tunnel key list", cause: error)
    }
  }
}

extension NSDBPaths {
  /// The tunnel keys of a zone.
  public func tunnelKeys(_ zone: ID) -> String { version + "/keys/" + zone.description }
}

extension NSDBStore {
  /// A zone's tunnel keys (empty: messages are not authenticated).
  public func tunnelKeys(_ zone: ID) async throws -> TunnelKeyList {
    let path = paths.tunnelKeys(zone)
    do {
      return try TunnelKeyList.decode(try await client.get(path).data, path: path)
    } catch let error as ZooKeeperError where error.code == .noNode {
      return TunnelKeyList()
    } catch let error as NSDBError {
      throw error
    } catch {
      throw NSDBError.wrap(error, "reading \(path)")
    }
  }

  /// Writes a zone's tunnel keys.
  public func setTunnelKeys(_ zone: ID, _ list: TunnelKeyList) async throws {
    let path = paths.tunnelKeys(zone)
    let bytes = try list.encoded()
    do {
      if try await client.exists(path) == nil {
        try await client.createPath(path, data: bytes)
      } else {
        try await client.set(path, data: bytes)
      }
    } catch {
      throw NSDBError.wrap(error, "writing \(path)")
    }
  }

  /// A zone's tunnel keys now and at every change (the first value at once); a list
  /// that does not decode is reported as empty and logged by the caller's error.
  public func watchTunnelKeys(_ zone: ID) -> AsyncThrowingStream<TunnelKeyList, any Error> {
    let path = paths.tunnelKeys(zone)
    let states = client.watchData(path)
    return AsyncThrowingStream { continuation in
      let task = Task {
        do {
          for try await state in states {
            let list = try state.data.map { try TunnelKeyList.decode($0, path: path) }
            continuation.yield(list ?? TunnelKeyList())
          }
          continuation.finish()
        } catch {
          continuation.finish(throwing: error)
        }
      }
      continuation.onTermination = { _ in task.cancel() }
    }
  }
}
