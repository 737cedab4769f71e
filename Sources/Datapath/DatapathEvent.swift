import Packets

/// Something the datapath reports to the agent. Delivered on a packet thread; handlers
/// should hand events off (to an `AsyncStream`, say) and return.
public enum DatapathEvent: Sendable {
  /// The interface serving `port` is up and carrying packets.
  case linkUp(port: UInt32, interface: String)
  /// The interface went down or disappeared; the port has been detached.
  case detached(port: UInt32, interface: String, reason: String)
  /// Flows left a table (timeouts, eviction). Removals the agent asked for are not
  /// reported again.
  case flowsRemoved([RemovedFlow])
  /// A message another agent sent with `DatapathSwitch.sendMessage` (flow state), as received.
  case tunnelMessage([UInt8])
}

/// A packet no flow matched: the agent simulates it and installs a flow (or answers with
/// `DatapathSwitch.completeMiss`). Until then this packet and later ones of the same flow are
/// parked in the packet loop, not simulated again.
public struct DatapathMiss: Sendable {
  /// The packet's match.
  public var match: FlowMatch
  /// The frame as received (checksums completed).
  public var frame: [UInt8]

  /// Creates a miss.
  public init(match: FlowMatch, frame: [UInt8]) {
    self.match = match
    self.frame = frame
  }
}
