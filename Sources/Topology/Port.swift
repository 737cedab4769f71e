import Addresses

/// A port of a bridge or a router: where packets enter and leave a device.
///
/// One struct for every kind of port, as in MidoNet, rather than a type per
/// kind: the NSDB stores all ports under one type, bindings refer to "a port",
/// and what a port *is* follows from which optional fields are set:
/// - **exterior**: bound to a host's interface (`hostId` + `interfaceName`);
///   packets enter and leave the virtual topology here.
/// - **interior**: linked to another port (`peerId`), e.g. a router port
///   patched to a bridge port; packets cross without leaving the simulation.
/// - neither: created but not plugged in yet; it carries no traffic.
///
/// Router ports additionally carry their L3 identity (`portAddress`,
/// `portSubnet`, `portMAC`); `TopologySnapshot.validate()` insists on them.
public struct Port: ModelObject {
  public static let modelType = ModelType.port
  public static var snapshotKeyPath: WritableKeyPath<TopologySnapshot, [ID: Port]> { \.ports }

  public var id: ID
  /// The bridge or router this port belongs to (binding: `portIds` there).
  public var device: DeviceRef
  /// A port that is administratively down neither receives nor emits.
  public var adminStateUp: Bool
  /// Cluster-unique key carried in the tunnel header when a packet is sent to
  /// the host serving this port, so the receiver delivers it without
  /// re-simulating. 0 means "not assigned yet"; the NSDB assigns keys.
  public var tunnelKey: UInt32
  /// Chain applied to packets entering the device through this port.
  public var inboundFilterId: ID?
  /// Chain applied to packets leaving the device through this port.
  public var outboundFilterId: ID?
  /// Port groups this port belongs to (binding: `PortGroup.portIds`).
  public var portGroupIds: [ID]
  /// Routes whose next hop is this port (binding: `Route.nextHopPortId`).
  /// A route via an exterior port is withdrawn while the port is inactive.
  public var routeIds: [ID]
  /// For bridge ports: the VLAN this port is an access port of (the bridge
  /// tags on ingress, untags on egress); nil for a trunk/untagged port.
  public var vlanId: UInt16?

  /// Exterior: the host whose interface this port is bound to (binding: `Host.portIds`).
  public var hostId: ID?
  /// Exterior: the interface name on that host (`veth1`, `tap0`).
  public var interfaceName: String?
  /// Interior: the port this one is linked to; the link is symmetric.
  public var peerId: ID?

  /// Router ports: the router's own address on this port.
  public var portAddress: IPv4Address?
  /// Router ports: the directly connected subnet.
  public var portSubnet: IPv4Prefix?
  /// Router ports: the MAC the router answers ARP with on this port.
  public var portMAC: MACAddress?

  /// A human name (from the topology file); not required to be unique.
  public var name: String
  /// Hosts that may serve the port (a gateway or uplink), instead of one `hostId`:
  /// they elect the holder (see `PortCandidate`).
  public var candidates: [PortCandidate] = []

  public init(
    id: ID, device: DeviceRef, adminStateUp: Bool = true, tunnelKey: UInt32 = 0,
    inboundFilterId: ID? = nil, outboundFilterId: ID? = nil, portGroupIds: [ID] = [],
    routeIds: [ID] = [], vlanId: UInt16? = nil, hostId: ID? = nil, interfaceName: String? = nil,
    peerId: ID? = nil, portAddress: IPv4Address? = nil, portSubnet: IPv4Prefix? = nil,
    portMAC: MACAddress? = nil, name: String = ""
  ) {
    self.id = id
    self.name = name
    self.device = device
    self.adminStateUp = adminStateUp
    self.tunnelKey = tunnelKey
    self.inboundFilterId = inboundFilterId
    self.outboundFilterId = outboundFilterId
    self.portGroupIds = portGroupIds
    self.routeIds = routeIds
    self.vlanId = vlanId
    self.hostId = hostId
    self.interfaceName = interfaceName
    self.peerId = peerId
    self.portAddress = portAddress
    self.portSubnet = portSubnet
    self.portMAC = portMAC
  }

  /// Bound to an interface on a host: both `hostId` and `interfaceName` set, or served
  /// by whichever of its `candidates` holds it.
  public var isExterior: Bool { (hostId != nil && interfaceName != nil) || !candidates.isEmpty }

  /// The candidate entry of `host`, if `host` may serve this port.
  public func candidate(for host: ID) -> PortCandidate? {
    candidates.first { $0.hostId == host }
  }

  /// Linked to a peer port.
  public var isInterior: Bool { peerId != nil }

  /// Plugged into something — a host interface or a peer — and so able to
  /// carry traffic. An unbound port is configuration waiting to be used.
  public var isBound: Bool { isExterior || isInterior }

  /// The owning bridge's id, if this is a bridge port.
  public var bridgeId: ID? {
    if case .bridge(let id) = device { return id }
    return nil
  }

  /// The owning router's id, if this is a router port.
  public var routerId: ID? {
    if case .router(let id) = device { return id }
    return nil
  }
}
