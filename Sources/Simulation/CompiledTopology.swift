import Addresses
import Packets
import Topology

/// A rule with the two tests that most often reject a packet pulled out, so
/// a chain can skip a rule without calling `Condition.matches`: security
/// group chains are long lists of per-protocol rules, and most rules fail on
/// protocol or EtherType. Skipping gives exactly the answer `matches` would
/// (a set, non-inverted test on a field the packet lacks or has a different
/// value for is false).
struct CompiledRule: Sendable {
  var rule: Rule
  /// The rule requires this IP protocol (set and not inverted).
  var requiredProtocol: UInt8?
  /// The rule requires this EtherType (set and not inverted).
  var requiredEtherType: UInt16?

  init(_ rule: Rule) {
    self.rule = rule
    let condition = rule.condition
    requiredProtocol = condition.invNwProto ? nil : condition.nwProto
    requiredEtherType = condition.invDlType ? nil : condition.dlType
  }

  /// Whether the quick tests already rule the packet out.
  func skips(etherType: UInt16, ipProtocol: UInt8?) -> Bool {
    if let required = requiredEtherType, required != etherType { return true }
    if let required = requiredProtocol, required != ipProtocol { return true }
    return false
  }
}

/// A chain's rules resolved in order, or the ids that are missing.
struct CompiledChain: Sendable {
  var rules: [CompiledRule]
  /// Rules, port groups and address groups the chain refers to that are not
  /// loaded: evaluating the chain gives `.notYet` for them.
  var missing: [ObjectRef]
  /// Whether any rule looks at the connection direction, so evaluating the
  /// chain needs (and starts) connection tracking.
  var usesConntrack: Bool
}

/// A route reduced to what longest-prefix match needs.
struct CompiledRoute: Sendable {
  var id: ID
  var sourceNetwork: UInt32
  var sourceMask: UInt32
  var destinationNetwork: UInt32
  var destinationMask: UInt32
  var destinationLength: Int
  var weight: UInt32
  var nextHop: Route.NextHop
  var port: ID?
  var gateway: IPv4Address?

  func matches(source: IPv4Address, destination: IPv4Address) -> Bool {
    destination.rawValue & destinationMask == destinationNetwork
      && source.rawValue & sourceMask == sourceNetwork
  }
}

/// A router's routes sorted for lookup: longest destination prefix first,
/// then lowest weight, then id (so equal-cost routes have a fixed order and
/// ECMP by flow hash is deterministic everywhere).
struct CompiledRoutes: Sendable {
  var routes: [CompiledRoute]
  var missing: [ObjectRef]
}

/// A router port's L3 identity, converted once.
struct PortL3: Sendable {
  var address: IPv4Address
  var network: UInt32
  var mask: UInt32
  var mac: MACAddress

  func onLink(_ ip: IPv4Address) -> Bool { ip.rawValue & mask == network }
}

/// The ports of a device in a fixed order (for floods), and any listed port
/// that is not loaded.
struct DevicePorts: Sendable {
  var ports: [ID]
  var missing: [ObjectRef]
}

/// Lookup structures derived from a `TopologySnapshot`, built once per view.
///
/// A final class so copying a view costs one retain however large the
/// topology is.
final class CompiledTopology: Sendable {
  let chains: [ID: CompiledChain]
  let routes: [ID: CompiledRoutes]
  let devicePorts: [ID: DevicePorts]
  let portL3: [ID: PortL3]
  /// (router, own address) → the router port holding it.
  let routerAddresses: [DeviceIPKey: ID]
  /// (bridge, IP) → MAC from DHCP static hosts and peer router ports.
  let bridgeStaticIPs: [DeviceIPKey: MACAddress]
  /// (bridge, MAC of a peer router port) → the bridge port it sits behind:
  /// bridges know their routers' MACs without learning them.
  let bridgeRouterMACs: [DeviceIPKey.MACKey: ID]
  /// Port → the port groups it belongs to, as the set `MatchContext` wants.
  let portGroups: [ID: Set<ID>]
  /// Address-group membership test for `MatchContext`, built once.
  let addressGroupContains: @Sendable (ID, IPv4Address) -> Bool

  init(_ topology: TopologySnapshot) {
    var chains: [ID: CompiledChain] = [:]
    for (id, chain) in topology.chains {
      var compiled = CompiledChain(rules: [], missing: [], usesConntrack: false)
      for ruleId in chain.ruleIds {
        guard let rule = topology.rules[ruleId] else {
          compiled.missing.append(ObjectRef(.rule, ruleId))
          continue
        }
        let condition = rule.condition
        if condition.matchForwardFlow || condition.matchReturnFlow {
          compiled.usesConntrack = true
        }
        for group in [condition.ipAddrGroupIdSrc, condition.ipAddrGroupIdDst].compactMap({ $0 })
        where topology.ipAddrGroups[group] == nil {
          compiled.missing.append(ObjectRef(.ipAddrGroup, group))
        }
        if let group = condition.portGroupId, topology.portGroups[group] == nil {
          compiled.missing.append(ObjectRef(.portGroup, group))
        }
        compiled.rules.append(CompiledRule(rule))
      }
      chains[id] = compiled
    }
    self.chains = chains

    var routes: [ID: CompiledRoutes] = [:]
    for (id, router) in topology.routers {
      var table = CompiledRoutes(routes: [], missing: [])
      for routeId in router.routeIds where topology.routes[routeId] == nil {
        table.missing.append(ObjectRef(.route, routeId))
      }
      routes[id] = table
    }
    for route in topology.routes.values {
      let compiled = CompiledRoute(
        id: route.id, sourceNetwork: route.srcPrefix.network.rawValue,
        sourceMask: route.srcPrefix.mask,
        destinationNetwork: route.dstPrefix.network.rawValue, destinationMask: route.dstPrefix.mask,
        destinationLength: route.dstPrefix.length, weight: route.weight, nextHop: route.nextHop,
        port: route.nextHopPortId, gateway: route.nextHopGateway)
      routes[route.routerId, default: CompiledRoutes(routes: [], missing: [])].routes.append(
        compiled)
    }
    for id in routes.keys {
      routes[id]?.routes.sort {
        ($0.destinationLength, $1.weight, $1.id) > ($1.destinationLength, $0.weight, $0.id)
      }
    }
    self.routes = routes

    var devicePorts: [ID: DevicePorts] = [:]
    var listed: [ID: Set<ID>] = [:]
    for (id, bridge) in topology.bridges { listed[id, default: []].formUnion(bridge.portIds) }
    for (id, router) in topology.routers { listed[id, default: []].formUnion(router.portIds) }
    for port in topology.ports.values { listed[port.device.id, default: []].insert(port.id) }
    for (device, ids) in listed {
      let sorted = ids.sorted()
      devicePorts[device] = DevicePorts(
        ports: sorted.filter { topology.ports[$0] != nil },
        missing: sorted.filter { topology.ports[$0] == nil }.map { ObjectRef(.port, $0) })
    }
    self.devicePorts = devicePorts

    var portL3: [ID: PortL3] = [:]
    var routerAddresses: [DeviceIPKey: ID] = [:]
    var bridgeStaticIPs: [DeviceIPKey: MACAddress] = [:]
    var bridgeRouterMACs: [DeviceIPKey.MACKey: ID] = [:]
    for port in topology.ports.values {
      guard case .router(let router) = port.device, let address = port.portAddress,
        let mac = port.portMAC
      else { continue }
      let subnet = port.portSubnet ?? .host(address)
      let l3 = PortL3(
        address: address, network: subnet.network.rawValue, mask: subnet.mask, mac: mac
      )
      portL3[port.id] = l3
      routerAddresses[DeviceIPKey(device: router, ip: l3.address)] = port.id
      if let peerId = port.peerId, let peer = topology.ports[peerId],
        case .bridge(let bridge) = peer.device
      {
        bridgeStaticIPs[DeviceIPKey(device: bridge, ip: l3.address)] = l3.mac
        bridgeRouterMACs[DeviceIPKey.MACKey(device: bridge, mac: l3.mac)] = peerId
      }
    }
    for dhcp in topology.dhcps.values {
      for host in dhcp.hosts {
        bridgeStaticIPs[DeviceIPKey(device: dhcp.bridgeId, ip: host.ip)] = host.mac
      }
    }
    self.portL3 = portL3
    self.routerAddresses = routerAddresses
    self.bridgeStaticIPs = bridgeStaticIPs
    self.bridgeRouterMACs = bridgeRouterMACs

    var portGroups: [ID: Set<ID>] = [:]
    for port in topology.ports.values where !port.portGroupIds.isEmpty {
      portGroups[port.id] = Set(port.portGroupIds)
    }
    for group in topology.portGroups.values {
      for port in group.portIds { portGroups[port, default: []].insert(group.id) }
    }
    self.portGroups = portGroups

    let membership = topology.ipAddrGroupMembership
    self.addressGroupContains = { group, address in
      membership[group]?.contains(address) ?? false
    }
  }
}

extension DeviceIPKey {
  /// A (device, MAC) key.
  struct MACKey: Hashable, Sendable {
    var device: ID
    var mac: MACAddress
  }
}
