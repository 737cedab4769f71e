// Checking a snapshot for references that lead nowhere.
//
// The NSDB keeps both sides of every binding in step inside one ZooKeeper
// `multi`, so a snapshot read from it should always validate cleanly; a
// snapshot built by hand (a topology file, a test) may not. `validate()`
// finds, for every object:
//
// - dangling references: an id field naming an object that is absent;
// - missing back references: both objects exist, but the binding's other
//   side does not point back (reported on the side whose field is checked,
//   so a one-sided link is reported once, by the side that has it);
// - a handful of field inconsistencies that would otherwise surface as
//   puzzling simulation results (router ports without addresses, routes to
//   `.port` without a port, rules that can never match, NAT without targets);
// - duplicate non-zero tunnel keys, and objects stored under a foreign key.
//
// Problems are returned, not thrown, and in a deterministic order (by model
// type, then id, then field), so `midgectl` can print them all at once and
// tests can compare them.

extension TopologySnapshot {
  /// Every problem in the snapshot; empty when it is consistent.
  public func validate() -> [TopologyError] {
    var validator = Validator(topology: self)
    validator.run()
    return validator.errors
  }
}

/// Walks a snapshot and collects `TopologyError`s. The "current object" is
/// set per object so the check helpers can name it in every message.
private struct Validator {
  let topology: TopologySnapshot
  var errors: [TopologyError] = []
  private var ownerType = ModelType.host
  private var ownerId = ID.zero

  init(topology: TopologySnapshot) {
    self.topology = topology
  }

  mutating func run() {
    for (key, host) in inOrder(topology.hosts) {
      begin(key, host)
      checkHost(host)
    }
    for (key, zone) in inOrder(topology.tunnelZones) {
      begin(key, zone)
      checkTunnelZone(zone)
    }
    for (key, bridge) in inOrder(topology.bridges) {
      begin(key, bridge)
      checkBridge(bridge)
    }
    for (key, router) in inOrder(topology.routers) {
      begin(key, router)
      checkRouter(router)
    }
    for (key, port) in inOrder(topology.ports) {
      begin(key, port)
      checkPort(port)
    }
    for (key, route) in inOrder(topology.routes) {
      begin(key, route)
      checkRoute(route)
    }
    for (key, chain) in inOrder(topology.chains) {
      begin(key, chain)
      checkChain(chain)
    }
    for (key, rule) in inOrder(topology.rules) {
      begin(key, rule)
      checkRule(rule)
    }
    for (key, group) in inOrder(topology.portGroups) {
      begin(key, group)
      checkPortGroup(group)
    }
    for (key, group) in inOrder(topology.ipAddrGroups) { begin(key, group) }
    for (key, dhcp) in inOrder(topology.dhcps) {
      begin(key, dhcp)
      checkDhcp(dhcp)
    }
    checkTunnelKeys()
  }

  // MARK: Per type

  private mutating func checkHost(_ host: Host) {
    refs("portIds", host.portIds, Port.self, back: "hostId") { $0.hostId == host.id }
    refs("tunnelZoneIds", host.tunnelZoneIds, TunnelZone.self, back: "hostIds") {
      $0.hostIds.contains(host.id)
    }
    refs("candidatePortIds", host.candidatePortIds, Port.self, back: "candidates") {
      $0.candidate(for: host.id) != nil
    }
  }

  private mutating func checkTunnelZone(_ zone: TunnelZone) {
    refs("hostIds", zone.hostIds, Host.self, back: "tunnelZoneIds") {
      $0.tunnelZoneIds.contains(zone.id)
    }
    refs("members", zone.members.keys.sorted(), Host.self)
    if Set(zone.members.keys) != Set(zone.hostIds) {
      report(.invalidField, "members", "lists hosts other than those in hostIds")
    }
  }

  private mutating func checkBridge(_ bridge: Bridge) {
    ref("inboundFilterId", bridge.inboundFilterId, Chain.self)
    ref("outboundFilterId", bridge.outboundFilterId, Chain.self)
    refs("portIds", bridge.portIds, Port.self, back: "device") { $0.device == .bridge(bridge.id) }
    refs("dhcpIds", bridge.dhcpIds, Dhcp.self, back: "bridgeId") { $0.bridgeId == bridge.id }
  }

  private mutating func checkRouter(_ router: Router) {
    ref("inboundFilterId", router.inboundFilterId, Chain.self)
    ref("outboundFilterId", router.outboundFilterId, Chain.self)
    ref("forwardFilterId", router.forwardFilterId, Chain.self)
    refs("portIds", router.portIds, Port.self, back: "device") { $0.device == .router(router.id) }
    refs("routeIds", router.routeIds, Route.self, back: "routerId") { $0.routerId == router.id }
  }

  private mutating func checkPort(_ port: Port) {
    switch port.device {
    case .bridge(let id):
      ref("device", id, Bridge.self, back: "portIds") { $0.portIds.contains(port.id) }
    case .router(let id):
      ref("device", id, Router.self, back: "portIds") { $0.portIds.contains(port.id) }
    }
    ref("hostId", port.hostId, Host.self, back: "portIds") { $0.portIds.contains(port.id) }
    if port.peerId == port.id {
      report(.invalidField, "peerId", "links the port to itself")
    } else {
      ref("peerId", port.peerId, Port.self, back: "peerId") { $0.peerId == port.id }
    }
    ref("inboundFilterId", port.inboundFilterId, Chain.self)
    ref("outboundFilterId", port.outboundFilterId, Chain.self)
    refs("portGroupIds", port.portGroupIds, PortGroup.self, back: "portIds") {
      $0.portIds.contains(port.id)
    }
    refs("routeIds", port.routeIds, Route.self, back: "nextHopPortId") {
      $0.nextHopPortId == port.id
    }

    if (port.hostId == nil) != (port.interfaceName == nil) {
      report(.invalidField, "interfaceName", "must be set together with hostId")
    }
    if !port.candidates.isEmpty {
      if port.hostId != nil {
        report(.invalidField, "candidates", "are set on a port bound to one host")
      }
      if Set(port.candidates.map(\.hostId)).count != port.candidates.count {
        report(.invalidField, "candidates", "name a host twice")
      }
      for candidate in port.candidates {
        if let host = topology.hosts[candidate.hostId] {
          if !host.candidatePortIds.contains(port.id) {
            report(
              .missingBackReference, "candidates",
              "name host \(candidate.hostId), whose candidatePortIds does not list the port")
          }
        } else {
          report(
            .danglingReference, "candidates", "name host \(candidate.hostId), which does not exist")
        }
        if candidate.interfaceName.isEmpty {
          report(.invalidField, "candidates", "have an empty interface name")
        }
      }
    }
    if port.isExterior && port.isInterior {
      report(.invalidField, "peerId", "is set on a port bound to a host interface")
    }
    if case .router = port.device {
      if port.portAddress == nil { report(.invalidField, "portAddress", "is missing") }
      if port.portMAC == nil { report(.invalidField, "portMAC", "is missing") }
      if let subnet = port.portSubnet {
        if let address = port.portAddress, !subnet.contains(address) {
          report(.invalidField, "portAddress", "\(address) is outside portSubnet \(subnet)")
        }
      } else {
        report(.invalidField, "portSubnet", "is missing")
      }
    }
  }

  private mutating func checkRoute(_ route: Route) {
    ref("routerId", route.routerId, Router.self, back: "routeIds") {
      $0.routeIds.contains(route.id)
    }
    ref("nextHopPortId", route.nextHopPortId, Port.self, back: "routeIds") {
      $0.routeIds.contains(route.id)
    }
    if route.nextHop == .port && route.nextHopPortId == nil {
      report(.invalidField, "nextHopPortId", "is missing for next hop .port")
    }
    if let portId = route.nextHopPortId, let port = topology.ports[portId],
      port.device != .router(route.routerId)
    {
      report(
        .invalidField, "nextHopPortId", "names Port \(portId), which is not a port of its router")
    }
  }

  private mutating func checkChain(_ chain: Chain) {
    refs("ruleIds", chain.ruleIds, Rule.self, back: "chainId") { $0.chainId == chain.id }
  }

  private mutating func checkRule(_ rule: Rule) {
    ref("chainId", rule.chainId, Chain.self, back: "ruleIds") { $0.ruleIds.contains(rule.id) }
    let condition = rule.condition
    refs("condition.inPortIds", condition.inPortIds, Port.self)
    refs("condition.outPortIds", condition.outPortIds, Port.self)
    ref("condition.portGroupId", condition.portGroupId, PortGroup.self)
    ref("condition.ipAddrGroupIdSrc", condition.ipAddrGroupIdSrc, IPAddrGroup.self)
    ref("condition.ipAddrGroupIdDst", condition.ipAddrGroupIdDst, IPAddrGroup.self)
    if condition.matchForwardFlow && condition.matchReturnFlow {
      report(
        .invalidField, "condition.matchReturnFlow",
        "is set together with matchForwardFlow, so the rule never matches")
    }
    switch rule.action {
    case .jump(let chainId):
      ref("action", chainId, Chain.self)
    case .dnat(let targets), .snat(let targets):
      if targets.isEmpty {
        report(.invalidField, "action", "translates to no NAT targets")
      } else if !targets.allSatisfy(\.isWellFormed) {
        report(.invalidField, "action", "has a NAT target whose range ends before it starts")
      }
    case .accept, .drop, .reject, .return, .continue, .reverseDNAT, .reverseSNAT:
      break
    }
  }

  private mutating func checkPortGroup(_ group: PortGroup) {
    refs("portIds", group.portIds, Port.self, back: "portGroupIds") {
      $0.portGroupIds.contains(group.id)
    }
  }

  private mutating func checkDhcp(_ dhcp: Dhcp) {
    ref("bridgeId", dhcp.bridgeId, Bridge.self, back: "dhcpIds") { $0.dhcpIds.contains(dhcp.id) }
  }

  private mutating func checkTunnelKeys() {
    var owners: [UInt32: ID] = [:]
    for id in topology.ports.keys.sorted() {
      guard let port = topology.ports[id], port.tunnelKey != 0 else { continue }
      ownerType = .port
      ownerId = id
      if let first = owners[port.tunnelKey] {
        report(
          .duplicateTunnelKey, "tunnelKey", "\(port.tunnelKey) is also used by Port \(first)")
      } else {
        owners[port.tunnelKey] = id
      }
    }
  }

  // MARK: Helpers

  /// The objects of one type in id order, so reports come out deterministically.
  private func inOrder<T>(_ objects: [ID: T]) -> [(key: ID, value: T)] {
    objects.sorted { $0.key < $1.key }
  }

  /// Makes `object` the one reports are about, and checks it sits under its own id.
  private mutating func begin<T: ModelObject>(_ key: ID, _ object: T) {
    ownerType = T.modelType
    ownerId = key
    if object.id != key {
      report(.idMismatch, "id", "is \(object.id) but the object is stored under \(key)")
    }
  }

  /// Checks one optional reference; if the target exists and `back` is given,
  /// checks that the target points back through `backField`.
  private mutating func ref<T: ModelObject>(
    _ field: String, _ target: ID?, _ type: T.Type, back backField: String? = nil,
    pointsBack: (T) -> Bool = { _ in true }
  ) {
    guard let target else { return }
    guard let object = topology[T.self, id: target] else {
      report(
        .danglingReference, field,
        "refers to \(T.modelType.rawValue) \(target), which does not exist")
      return
    }
    if let backField, !pointsBack(object) {
      report(
        .missingBackReference, field,
        "refers to \(T.modelType.rawValue) \(target), whose \(backField) does not refer back")
    }
  }

  /// `ref` for each id of a list field.
  private mutating func refs<T: ModelObject>(
    _ field: String, _ targets: [ID], _ type: T.Type, back backField: String? = nil,
    pointsBack: (T) -> Bool = { _ in true }
  ) {
    for target in targets {
      ref(field, target, type, back: backField, pointsBack: pointsBack)
    }
  }

  private mutating func report(_ code: TopologyError.Code, _ field: String, _ problem: String) {
    errors.append(
      TopologyError(
        code: code, objectType: ownerType, objectId: ownerId, field: field,
        message: "\(ownerType.rawValue) \(ownerId) field \(field) \(problem)"))
  }
}
