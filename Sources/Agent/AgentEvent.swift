import Addresses
import AgentCore
import Datapath
import NSDB
import Topology
import ZooKeeper

/// Everything that reaches the agent's event loop, from the NSDB observers, the datapath's
/// packet threads, the ZooKeeper session and the ticker. One serial stream: the agent's
/// state has one owner and events are handled in the order they arrived, so a flow is
/// never installed from a view older than an invalidation already applied.
enum AgentEvent: Sendable {
  case topology(TopologyChange)
  case topologyAbsent(ObjectRef)
  /// Simulate again the packets waiting for topology (posted once per burst of loads).
  case retryPending
  /// An observed object's bytes cannot be decoded (the reason).
  case topologyCorrupt(ObjectRef, String)
  /// The new misses of one datapath receive batch.
  case misses([DatapathMiss])
  case datapath(DatapathEvent)
  case macTable(bridge: ID, [MACAddress: ID])
  case ipMACTable(bridge: ID, [IPv4Address: MACAddress])
  case arpTable(router: ID, [IPv4Address: MACAddress])
  case active(port: ID, PortActivation?)
  case alive(host: ID, Bool)
  case leadership(port: ID, Leadership)
  case session(SessionEvent)
  case tick
  /// Time to send liveness hellos, check peers and the lease (Agent+Liveness).
  case livenessTick
  /// A lease confirmation sent at that DatapathClock instant came back (nil: it failed).
  case leaseConfirmed(sentAt: UInt64, HostLease.Confirmation?)
  case takeoverEnded(port: ID)
  /// The answer to a source-NAT lease request (nil: no block was free).
  case natLeased(NATBlock?)
  /// Who holds a source-NAT block this host asked to adopt (nil: unknown, ask again).
  case natAdopted(NATBlock, holder: ID?)
  /// A lease this host held went to another session (after a session expiry).
  case natLost(NATBlock)
  /// The tunnel zone's keys changed.
  case tunnelKeys(TunnelKeyList)
}
