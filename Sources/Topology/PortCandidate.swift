/// One host that may serve a port several hosts can serve (a gateway or an uplink):
/// the interface the port is bound to there, and how strongly that host wants it.
///
/// The candidates of a port elect one holder through the NSDB leader election; the
/// holder attaches the interface and activates the port, the others wait in line.
/// Candidates with a higher `priority` join the election first, so on a cold start the
/// highest-priority live host holds the port; after a failover the next in line takes
/// over and keeps the port (no pre-emption back), as gateways usually behave.
public struct PortCandidate: Hashable, Sendable, Codable {
  public var hostId: ID
  public var interfaceName: String
  public var priority: Int32

  public init(hostId: ID, interfaceName: String, priority: Int32 = 0) {
    self.hostId = hostId
    self.interfaceName = interfaceName
    self.priority = priority
  }
}
