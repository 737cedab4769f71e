/// A hypervisor running `midge-agent`.
///
/// The host's liveness is runtime state (`/midge/v1/state/Host/<id>/alive`),
/// not part of this value; this is only what an operator declares.
public struct Host: ModelObject {
  public static let modelType = ModelType.host
  public static var snapshotKeyPath: WritableKeyPath<TopologySnapshot, [ID: Host]> { \.hosts }

  public var id: ID
  public var name: String
  /// Exterior ports bound to an interface on this host (binding: `Port.hostId`).
  public var portIds: [ID]
  /// Tunnel zones this host is a member of (binding: `TunnelZone.hostIds`).
  public var tunnelZoneIds: [ID]
  /// Ports that list this host among their `candidates` (binding: `Port.candidates`), so
  /// that an agent finds the ports it may have to serve without reading every port.
  public var candidatePortIds: [ID]

  public init(
    id: ID, name: String, portIds: [ID] = [], tunnelZoneIds: [ID] = [],
    candidatePortIds: [ID] = []
  ) {
    self.id = id
    self.name = name
    self.portIds = portIds
    self.tunnelZoneIds = tunnelZoneIds
    self.candidatePortIds = candidatePortIds
  }
}
