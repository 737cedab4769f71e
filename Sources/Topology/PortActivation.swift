/// Where an active exterior port is served: the host, and the tunnel key that reaches
/// the port there.
///
/// Runtime state rather than model (it lives in the port's ephemeral `active` node, not
/// in the port object), but defined here because both sides need the one type: the NSDB
/// stores and watches it, and the simulator reads it to pick a tunnel.
public struct PortActivation: Hashable, Sendable {
  /// The host whose agent serves the port.
  public var host: ID
  /// The key that tunnelled frames for the port carry (VXLAN VNI).
  public var tunnelKey: UInt32

  public init(host: ID, tunnelKey: UInt32) {
    self.host = host
    self.tunnelKey = tunnelKey
  }
}
