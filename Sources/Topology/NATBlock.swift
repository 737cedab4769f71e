import Addresses

/// A block of source-NAT ports one host leases for one address, cluster-wide.
///
/// Two hosts that source-NAT to the same address must never pick the same port for the
/// same destination, or replies reach the wrong VM. Each host therefore chooses ports
/// only from blocks it holds a lease on (an ephemeral node per (address, block) in the
/// NSDB, `NSDB.NATLeases`): blocks of 64 ports, as MidoNet leased them, small enough to
/// spread an address over many hosts and large enough that a lease, one ZooKeeper
/// write, serves many connections.
public struct NATBlock: Hashable, Sendable, CustomStringConvertible, Comparable {
  /// Ports per block.
  public static let size: UInt16 = 64

  public var address: IPv4Address
  /// The block's index: ports `index * 64 ... index * 64 + 63`.
  public var index: UInt16

  public init(address: IPv4Address, index: UInt16) {
    self.address = address
    self.index = index
  }

  /// The block holding `port`.
  public init(address: IPv4Address, port: UInt16) {
    self.init(address: address, index: port / Self.size)
  }

  /// Its ports.
  public var ports: ClosedRange<UInt16> {
    let low = index * Self.size
    return low...(low + (Self.size - 1))
  }

  /// The blocks that overlap `range`, in order.
  public static func indices(covering range: ClosedRange<UInt16>) -> ClosedRange<UInt16> {
    (range.lowerBound / size)...(range.upperBound / size)
  }

  public var description: String { "\(address):\(ports.lowerBound)-\(ports.upperBound)" }

  public static func < (lhs: NATBlock, rhs: NATBlock) -> Bool {
    (lhs.address.rawValue, lhs.index) < (rhs.address.rawValue, rhs.index)
  }
}
