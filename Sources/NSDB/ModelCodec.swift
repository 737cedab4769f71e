import LZ4
import Topology

/// How an object is stored in its znode: its protobuf bytes, LZ4-framed when
/// they are over `compressionThreshold` (so large chains and address groups
/// fit ZooKeeper's 1 MiB limit). A reader tells the two apart by the frame
/// magic ("MLZ4"); a protobuf encoding of a model object cannot start with it,
/// since every object begins with its id (field 1, tag byte 0x0A).
public enum ModelCodec {
  public static let compressionThreshold = 16 * 1024

  public static func encode(_ object: some WireCodable) throws(NSDBError) -> [UInt8] {
    let bytes: [UInt8]
    do {
      bytes = try object.wireBytes()
    } catch {
      throw NSDBError(
        .corrupt, "cannot encode \(type(of: object).modelType.rawValue) \(object.id)", cause: error)
    }
    return bytes.count > compressionThreshold ? LZ4Frame.encode(bytes) : bytes
  }

  public static func decode<T: WireCodable>(_ type: T.Type, _ stored: [UInt8], id: ID? = nil)
    throws(NSDBError) -> T
  {
    let what = "\(T.modelType.rawValue) \(id?.description ?? "?")"
    var bytes = stored
    if LZ4Frame.isFramed(stored) {
      do {
        bytes = try LZ4Frame.decode(stored)
      } catch {
        throw NSDBError(.corrupt, "\(what): corrupt compressed value", cause: error)
      }
    }
    do {
      return try T(wireBytes: bytes)
    } catch {
      throw NSDBError(.corrupt, "\(what): corrupt value", cause: error)
    }
  }

  /// Decodes an object of a type known only at run time.
  static func decodeAny(_ type: ModelType, _ stored: [UInt8], id: ID) throws(NSDBError)
    -> any WireCodable
  {
    try open(metatype(type), stored, id)
  }

  private static func open<T: WireCodable>(_ type: T.Type, _ stored: [UInt8], _ id: ID)
    throws(NSDBError) -> any WireCodable
  {
    try decode(T.self, stored, id: id)
  }

  static func metatype(_ type: ModelType) -> any WireCodable.Type {
    switch type {
    case .host: return Host.self
    case .tunnelZone: return TunnelZone.self
    case .bridge: return Bridge.self
    case .router: return Router.self
    case .port: return Port.self
    case .route: return Route.self
    case .chain: return Chain.self
    case .rule: return Rule.self
    case .portGroup: return PortGroup.self
    case .ipAddrGroup: return IPAddrGroup.self
    case .dhcp: return Dhcp.self
    }
  }
}
