import Addresses
import Topology

/// What the translation produces: the topology, the state-table entries a
/// port translation seeds (MidoNet fills a network's MAC and IP→MAC tables
/// for every Neutron port it translates), and warnings.
public struct K8sTranslation: Sendable, Hashable {
  /// A pod's MAC on its namespace bridge.
  public struct MACEntry: Sendable, Hashable {
    public var bridge: ID
    public var mac: MACAddress
    public var port: ID
  }

  /// A pod's address in the cluster router's ARP table.
  public struct ARPEntry: Sendable, Hashable {
    public var router: ID
    public var ip: IPv4Address
    public var mac: MACAddress
  }

  public var snapshot: TopologySnapshot
  /// Sorted by bridge, then MAC.
  public var macEntries: [MACEntry]
  /// Sorted by IP.
  public var arpEntries: [ARPEntry]
  public var warnings: [String]
}
