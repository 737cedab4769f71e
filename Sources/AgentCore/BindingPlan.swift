import Datapath
import Topology

/// What to do so that the attached interfaces match the ports this host serves: the
/// ports bound to it (host id and interface name) and the ports it leads as their
/// elected candidate.
///
/// Pure: the actor passes what is attached and which interfaces exist, and carries the
/// plan out (detach, then attach each in order, each attach still able to fail in the
/// datapath).
public struct BindingPlan: Hashable, Sendable {
  /// A port to attach: its interface and tunnel key (also its datapath port number).
  public struct Attach: Hashable, Sendable {
    public var port: ID
    public var interface: String
    public var key: UInt32

    public init(port: ID, interface: String, key: UInt32) {
      self.port = port
      self.interface = interface
      self.key = key
    }
  }

  /// What is attached now, as the actor knows it.
  public struct Attached: Hashable, Sendable {
    public var interface: String
    public var key: UInt32

    public init(interface: String, key: UInt32) {
      self.interface = interface
      self.key = key
    }
  }

  /// Ports whose binding went or changed.
  public var detach: [ID] = []
  /// Ports to attach, in port id order.
  public var attach: [Attach] = []
  /// Ports that are bound but cannot be attached, and why.
  public var unattachable: [ID: String] = [:]

  /// The plan for `host`.
  /// - Parameters:
  ///   - led: ports this host leads as elected candidate, with their interface names.
  ///   - attached: what is attached now.
  ///   - interfaces: the interfaces that exist (nil: not looked up; every one is tried).
  public init(
    host: ID, snapshot: TopologySnapshot, led: [ID: String], attached: [ID: Attached],
    interfaces: Set<String>?
  ) {
    var desired: [ID: Attached] = [:]
    for port in snapshot.ports.values where port.hostId == host {
      guard let interface = port.interfaceName else { continue }
      desired[port.id] = Attached(interface: interface, key: port.tunnelKey)
    }
    for (port, interface) in led {
      desired[port] = Attached(interface: interface, key: snapshot.ports[port]?.tunnelKey ?? 0)
    }
    var keysInUse: [UInt32: ID] = [:]
    for (port, now) in attached {
      if desired[port] == now {
        keysInUse[now.key] = port
      } else {
        detach.append(port)
      }
    }
    detach.sort()
    for (port, want) in desired.sorted(by: { $0.key < $1.key })
    where attached[port] == nil || detach.contains(port) {
      if let interfaces, !interfaces.contains(want.interface) {
        unattachable[port] = "no interface named \(want.interface)"
        continue
      }
      guard Self.usable(want.key), keysInUse[want.key] == nil else {
        unattachable[port] = "tunnel key \(want.key) is unusable or already in use"
        continue
      }
      keysInUse[want.key] = port
      attach.append(Attach(port: port, interface: want.interface, key: want.key))
    }
  }

  /// Whether a tunnel key can be a port's: not zero, and not one the datapath reserves.
  public static func usable(_ key: UInt32) -> Bool {
    key != 0 && key != DatapathSwitch.tunnelPort && key != DatapathSwitch.messageTunnelKey
  }
}
