/// A virtual L2 switch: learns MACs per VLAN and floods unknown destinations.
public struct Bridge: ModelObject {
  public static let modelType = ModelType.bridge
  public static var snapshotKeyPath: WritableKeyPath<TopologySnapshot, [ID: Bridge]> { \.bridges }

  public var id: ID
  public var name: String
  /// A bridge that is administratively down drops everything.
  public var adminStateUp: Bool
  /// Chain applied to every packet entering the bridge, before learning/forwarding.
  public var inboundFilterId: ID?
  /// Chain applied to every packet leaving the bridge.
  public var outboundFilterId: ID?
  /// Ports of this bridge (binding: `Port.device`).
  public var portIds: [ID]
  /// DHCP subnets served on this bridge (binding: `Dhcp.bridgeId`).
  public var dhcpIds: [ID]
  /// VXLAN network identifier when the bridge is extended to a hardware VTEP;
  /// nil for a purely virtual bridge.
  public var vni: UInt32?

  public init(
    id: ID, name: String, adminStateUp: Bool = true, inboundFilterId: ID? = nil,
    outboundFilterId: ID? = nil, portIds: [ID] = [], dhcpIds: [ID] = [], vni: UInt32? = nil
  ) {
    self.id = id
    self.name = name
    self.adminStateUp = adminStateUp
    self.inboundFilterId = inboundFilterId
    self.outboundFilterId = outboundFilterId
    self.portIds = portIds
    self.dhcpIds = dhcpIds
    self.vni = vni
  }
}
