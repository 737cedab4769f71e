import Topology

/// One connection-tracking entry: "a packet with this tuple entering the
/// simulation on this device is the return direction of a known connection".
///
/// The simulator looks up the packet's own tuple at its ingress device; when a
/// forward flow that used connection tracking is forwarded, it asks the shell
/// to add the *reversed* tuple of the packet as it leaves (after NAT) at the
/// egress device — exactly where and how the reply will enter. This is
/// MidoNet's scheme: no per-device state along the path, one entry per
/// connection, and NAT in between is accounted for by keying on the leaving
/// packet.
public struct ConntrackKey: Hashable, Sendable, CustomStringConvertible {
  public var tuple: FlowTuple
  /// The bridge or router at which the reply will enter.
  public var device: ID

  public init(tuple: FlowTuple, device: ID) {
    self.tuple = tuple
    self.device = device
  }

  public var description: String { "\(tuple) at \(device)" }
}
