import Addresses
import Datapath
import Packets
import Simulation
import Topology

/// One thing the agent must do, as `AgentCore` decided it; the actor carries the
/// directives out in the order they come.
public enum AgentDirective: Sendable {
  /// Install a flow. If the datapath refuses it (full), complete the miss with the same
  /// actions instead.
  case install(FlowEntry)
  /// Release the packets of a miss with these actions and no flow (no actions: drop).
  case complete(FlowMatch, actions: [DatapathAction])
  /// Send a frame the agent made (an ARP request or reply, an ICMP error).
  case send([UInt8], actions: [DatapathAction])
  /// Remove every flow carrying one of these tags.
  case invalidate([FlowTagHash])
  /// Start observing a topology object a simulation needs.
  case load(ObjectRef)
  /// Write a MAC this host learned on one of its ports to the bridge's table.
  case writeMAC(bridge: ID, mac: MACAddress, port: ID)
  /// Remove a MAC this host learned (its port went, or no flow used it for a while).
  case forgetMAC(bridge: ID, mac: MACAddress, port: ID)
  /// Write an ARP entry this host learned to the router's table.
  case writeARP(router: ID, ip: IPv4Address, mac: MACAddress)
  /// Flow state a simulation made: append it to these local ports' logs, and send it to
  /// these tunnel endpoints ahead of the packets of datapath port `before`.
  case replicate(FlowStateCopy)
  /// Lease one more source-NAT port block for one of `targets`' addresses, none of
  /// `held`; answer with `AgentCore.natLeased`.
  case leaseNAT(targets: [NatTarget], held: [NATBlock])
  /// Give a source-NAT port block back: no binding uses it any more.
  case releaseNAT(NATBlock)
  /// Lease these source-NAT blocks if they are free (this host has bindings of them that
  /// it did not make), or find who holds them; answer with `AgentCore.natAdopted`.
  case adoptNAT([NATBlock])
  /// Count something in the agent's metrics.
  case count(AgentCount)
}

/// Where a simulation's conntrack and NAT entries go (`AgentDirective.replicate`).
public struct FlowStateCopy: Sendable {
  /// The entries, in the order the simulation made them.
  public var changes: [StateChange]
  /// Local ports whose flow-state log gets the entries.
  public var logPorts: [ID]
  /// The hosts that may simulate the connection next, and where their tunnels end.
  public var recipients: [ID: TunnelEndpoint]
  /// The datapath port the packet came in by: the copies leave ahead of it (nil for a
  /// refresh, which precedes no packet).
  public var before: UInt32?
  /// The port whose hand-over this message completes (AgentCore.handOverFlowState).
  public var handOver: ID? = nil
  /// The port whose connections the entries are, when it moved to the recipient: the
  /// recipient owns them from now on.
  public var owner: ID? = nil
  /// Entries whose connection is closing (their copies go after the closing timeout).
  public var closing: [FlowStateKey] = []
}

/// What `AgentDirective.count` counts.
public enum AgentCount: Hashable, Sendable {
  /// One simulation ran.
  case simulation
  /// One packet was generated and sent (ARP, ICMP).
  case generatedPacket
  /// A parked packet waited too long and was dropped.
  case pendingDropped
  /// A simulated drop (or `cannot_execute`), by reason kind.
  case drop(String)
  /// Conntrack entries and NAT bindings expired.
  case flowStateExpired(Int)
  /// Live entries sent to peers again.
  case flowStateRefreshed(Int)
}
