import Addresses
import Packets

/// Where a tunnel sends: the remote agent's underlay IPv4 address and UDP port.
public struct TunnelEndpoint: Hashable, Sendable, CustomStringConvertible {
  /// The remote underlay address.
  public var address: IPv4Address
  /// The remote UDP port.
  public var port: UInt16

  /// Creates an endpoint.
  public init(address: IPv4Address, port: UInt16) {
    self.address = address
    self.port = port
  }

  public var description: String { "\(address):\(port)" }
}
