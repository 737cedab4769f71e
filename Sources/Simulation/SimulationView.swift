import Addresses
import Packets
import Topology

/// A bridge's MAC table entry key: MACs are learned per VLAN.
public struct MACTableKey: Hashable, Sendable {
  public var bridge: ID
  public var vlan: UInt16
  public var mac: MACAddress

  public init(bridge: ID, vlan: UInt16, mac: MACAddress) {
    self.bridge = bridge
    self.vlan = vlan
    self.mac = mac
  }
}

/// An (IPv4 address on a device) key: a bridge's IP→MAC table (ARP
/// suppression) and a router's ARP table.
public struct DeviceIPKey: Hashable, Sendable {
  public var device: ID
  public var ip: IPv4Address

  public init(device: ID, ip: IPv4Address) {
    self.device = device
    self.ip = ip
  }
}

/// The read-only world one simulation sees: the topology (whatever of it is
/// loaded) and the runtime state tables.
///
/// A concrete struct rather than a protocol so that `simulate` is compiled
/// once, fully specialized, in this module — a generic entry point would run
/// unspecialized when called from the agent's module, with a witness-table
/// call per lookup. The shell owns one, applies state changes to it and
/// replaces it (cheaply: everything inside is copy-on-write) when the
/// topology changes.
///
/// Anything the simulation needs that is absent from `topology` is "not
/// loaded yet": the result is `.notYet(ids)` and the shell loads them.
///
/// The topology is compiled once, at `init`, into lookup structures the
/// simulator walks without further work per packet (rules of each chain in
/// order, routes of each router sorted for longest-prefix match, router port
/// addresses, the MACs of router ports on each bridge). That is why
/// `topology` is immutable: build a new view when it changes. The state
/// tables are plain `var`s, updated in place.
public struct SimulationView: Sendable {
  /// The loaded topology.
  public let topology: TopologySnapshot
  /// Learned MACs: (bridge, VLAN, MAC) → bridge port.
  public var macTable: [MACTableKey: ID]
  /// Bridge IP→MAC entries for ARP suppression: (bridge, IP) → MAC. DHCP
  /// static hosts and the addresses of router ports on the bridge are added
  /// automatically from the topology; entries here take precedence.
  public var bridgeIPTable: [DeviceIPKey: MACAddress]
  /// Router ARP tables: (router, IP) → MAC.
  public var arpTable: [DeviceIPKey: MACAddress]
  /// Connection-tracking entries: return-flow keys (see `ConntrackKey`).
  public var conntrack: Set<ConntrackKey>
  /// NAT table: forward and reverse entries (see `NATBinding`).
  public var nat: [NATKey: NATTranslation]
  /// Active exterior ports and where they are served.
  public var activePorts: [ID: PortActivation]
  /// The source-NAT port blocks this host holds, by address, in ascending order (block
  /// `b` is ports `b * 64 ... b * 64 + 63`, `NATBlock`). Source NAT that translates ports
  /// chooses only among them, so two hosts never pick the same port. nil: no leasing,
  /// every port of a rule's range is a candidate (traces, a single host, tests).
  public var natLeases: [IPv4Address: [UInt16]]?

  /// Derived lookup structures (see the type's documentation).
  let compiled: CompiledTopology

  public init(
    topology: TopologySnapshot, macTable: [MACTableKey: ID] = [:],
    bridgeIPTable: [DeviceIPKey: MACAddress] = [:],
    arpTable: [DeviceIPKey: MACAddress] = [:], conntrack: Set<ConntrackKey> = [],
    nat: [NATKey: NATTranslation] = [:], activePorts: [ID: PortActivation] = [:],
    natLeases: [IPv4Address: [UInt16]]? = nil
  ) {
    self.topology = topology
    self.macTable = macTable
    self.bridgeIPTable = bridgeIPTable
    self.arpTable = arpTable
    self.conntrack = conntrack
    self.nat = nat
    self.activePorts = activePorts
    self.natLeases = natLeases
    self.compiled = CompiledTopology(topology)
  }

  /// The same state with a different topology (recompiled).
  public func replacingTopology(_ topology: TopologySnapshot) -> SimulationView {
    SimulationView(
      topology: topology, macTable: macTable, bridgeIPTable: bridgeIPTable, arpTable: arpTable,
      conntrack: conntrack, nat: nat, activePorts: activePorts, natLeases: natLeases)
  }

  /// Records one state change locally, as the shell does after a simulation.
  public mutating func apply(_ change: StateChange) {
    switch change {
    case .macLearned(let bridge, let vlan, let mac, let port):
      macTable[MACTableKey(bridge: bridge, vlan: vlan, mac: mac)] = port
    case .arpLearned(let router, let ip, let mac):
      arpTable[DeviceIPKey(device: router, ip: ip)] = mac
    case .conntrack(let key):
      conntrack.insert(key)
    case .natBinding(let binding):
      nat[binding.forwardKey] = binding.forward
      nat[binding.reverseKey] = binding.reverse
    }
  }

  /// Records every state change of a result, in order.
  public mutating func apply(_ changes: [StateChange]) {
    for change in changes { apply(change) }
  }

  /// Takes an expired conntrack entry or NAT binding out (a NAT entry only while it
  /// still holds this binding's value). MAC and ARP entries are not expired this way.
  public mutating func remove(_ change: StateChange) {
    switch change {
    case .conntrack(let key):
      conntrack.remove(key)
    case .natBinding(let binding):
      if nat[binding.forwardKey] == binding.forward { nat[binding.forwardKey] = nil }
      if nat[binding.reverseKey] == binding.reverse { nat[binding.reverseKey] = nil }
    case .macLearned, .arpLearned:
      break
    }
  }

  /// Rebuilds the conntrack and NAT tables once they use a quarter of their capacity or
  /// less: a hash table keeps its size when entries leave, so after a burst of
  /// connections expired the memory would stay taken.
  public mutating func compactFlowState() {
    if conntrack.capacity > 1024, conntrack.count * 4 <= conntrack.capacity {
      var fresh = Set<ConntrackKey>(minimumCapacity: conntrack.count)
      for key in conntrack { fresh.insert(key) }
      conntrack = fresh
    }
    if nat.capacity > 1024, nat.count * 4 <= nat.capacity {
      var fresh = [NATKey: NATTranslation](minimumCapacity: nat.count)
      for (key, value) in nat { fresh[key] = value }
      nat = fresh
    }
  }

  /// The MAC a bridge answers ARP requests for `ip` with, if any.
  func bridgeMAC(for ip: IPv4Address, on bridge: ID) -> MACAddress? {
    let key = DeviceIPKey(device: bridge, ip: ip)
    return bridgeIPTable[key] ?? compiled.bridgeStaticIPs[key]
  }
}
