import Addresses
import Packets
import Topology

/// A lookup key of the NAT table: which translation, on which device, for
/// which tuple.
public struct NATKey: Hashable, Sendable, CustomStringConvertible {
  /// The four lookups NAT needs.
  public enum Kind: UInt8, Hashable, Sendable, CustomStringConvertible {
    /// Forward packet of a source-translated connection → new source.
    case forwardSNAT
    /// Reply to a source-translated connection → original source (the
    /// reply's new destination).
    case reverseSNAT
    /// Forward packet of a destination-translated connection → new destination.
    case forwardDNAT
    /// Reply to a destination-translated connection → original destination
    /// (the reply's new source).
    case reverseDNAT

    public var description: String {
      switch self {
      case .forwardSNAT: return "snat"
      case .reverseSNAT: return "reverse-snat"
      case .forwardDNAT: return "dnat"
      case .reverseDNAT: return "reverse-dnat"
      }
    }
  }

  public var kind: Kind
  /// The device whose chain performed the translation.
  public var device: ID
  /// The packet's tuple when it reached the NAT rule.
  public var tuple: FlowTuple

  public init(kind: Kind, device: ID, tuple: FlowTuple) {
    self.kind = kind
    self.device = device
    self.tuple = tuple
  }

  public var description: String { "\(kind) \(tuple) at \(device)" }
}

/// The address and port a NAT lookup translates to.
public struct NATTranslation: Hashable, Sendable, CustomStringConvertible {
  public var address: IPv4Address
  public var port: UInt16

  public init(address: IPv4Address, port: UInt16) {
    self.address = address
    self.port = port
  }

  public var description: String { "\(address):\(port)" }
}

/// A new NAT binding, as a state change: the forward entry and the reverse
/// entry that undoes it on replies. The shell stores both (and replicates them
/// to the hosts that may carry the connection).
public struct NATBinding: Hashable, Sendable, CustomStringConvertible {
  public var forwardKey: NATKey
  public var forward: NATTranslation
  public var reverseKey: NATKey
  public var reverse: NATTranslation

  public init(
    forwardKey: NATKey, forward: NATTranslation, reverseKey: NATKey, reverse: NATTranslation
  ) {
    self.forwardKey = forwardKey
    self.forward = forward
    self.reverseKey = reverseKey
    self.reverse = reverse
  }

  public var description: String {
    "\(forwardKey) -> \(forward); \(reverseKey) -> \(reverse)"
  }
}
