import Addresses

/// A set of hosts that can reach each other over UDP tunnels, and the
/// underlay endpoint each one listens on.
public struct TunnelZone: ModelObject {
  public static let modelType = ModelType.tunnelZone
  public static var snapshotKeyPath: WritableKeyPath<TopologySnapshot, [ID: TunnelZone]> {
    \.tunnelZones
  }

  /// Where a member host receives tunnelled packets.
  public struct Endpoint: Hashable, Sendable, Codable {
    /// The host's underlay address.
    public var address: IPv4Address
    /// The host's tunnel UDP port (tests run several agents on 127.0.0.1,
    /// one port each, so the port is per host rather than global).
    public var port: UInt16

    public init(address: IPv4Address, port: UInt16) {
      self.address = address
      self.port = port
    }
  }

  public var id: ID
  public var name: String
  /// Member host id → its tunnel endpoint.
  public var members: [ID: Endpoint]
  /// The member host ids as a plain list: the field the NSDB binding to
  /// `Host.tunnelZoneIds` maintains. `TopologySnapshot.validate()` checks it agrees
  /// with the keys of `members`.
  public var hostIds: [ID]

  public init(id: ID, name: String, members: [ID: Endpoint] = [:], hostIds: [ID]? = nil) {
    self.id = id
    self.name = name
    self.members = members
    self.hostIds = hostIds ?? members.keys.sorted()
  }
}
