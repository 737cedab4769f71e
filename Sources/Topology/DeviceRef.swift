/// The device a port belongs to: a bridge or a router.
///
/// One enum rather than two optional ids (`bridgeId`, `routerId`), because a
/// port belongs to exactly one device and the type should say so; a codec maps
/// it to a protobuf `oneof`.
public enum DeviceRef: Hashable, Sendable, Codable {
  case bridge(ID)
  case router(ID)

  /// The device's id, whichever kind it is.
  public var id: ID {
    switch self {
    case .bridge(let id), .router(let id): return id
    }
  }

  /// The NSDB type of the device.
  public var modelType: ModelType {
    switch self {
    case .bridge: return .bridge
    case .router: return .router
    }
  }
}
