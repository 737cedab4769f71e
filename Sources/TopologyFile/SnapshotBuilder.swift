import Addresses
import Topology
import Yams

/// Builds a ``TopologySnapshot`` from the file's nodes, resolving names to
/// ids and filling every back-reference so the result is exactly what the
/// NSDB holds once it is applied.
final class SnapshotBuilder {
  let reader = FileReader()
  var snapshot = TopologySnapshot()
  /// Where each named object was declared, for duplicate and reference errors.
  var declared: [ModelType: [String: Field]] = [:]
  var pendingReferences: [(Field, ModelType, String)] = []
  var routerSubnets: [(router: String, prefix: IPv4Prefix, field: Field)] = []
  var portOrder: [ID] = []
  var explicitKeys: [ID: (UInt32, Field)] = [:]
  /// Routes to a port, checked once every port is read (``checkRouteGateways()``).
  var routeChecks:
    [(
      router: ID, routerName: String, port: ID, portField: Field, gateway: IPv4Address?,
      gatewayField: Field?
    )] = []

  static let topKeys: Set<String> = [
    "tunnelZones", "hosts", "chains", "portGroups", "ipAddrGroups", "bridges", "routers",
  ]

  func read(_ root: Field) {
    let top = reader.mapping(root, allowed: Self.topKeys)
    for zone in reader.list(top["tunnelZones"]) { readTunnelZone(zone) }
    for host in reader.list(top["hosts"]) { readHost(host) }
    for group in reader.list(top["portGroups"]) { readPortGroup(group) }
    for group in reader.list(top["ipAddrGroups"]) { readAddressGroup(group) }
    for chain in reader.list(top["chains"]) { readChain(chain) }
    for bridge in reader.list(top["bridges"]) { readBridge(bridge) }
    for router in reader.list(top["routers"]) { readRouter(router) }
  }

  /// Records a declaration; false (and an error) for a duplicate name.
  func declare(_ type: ModelType, _ name: String, _ field: Field) -> ID? {
    if let earlier = declared[type]?[name] {
      reader.fail(
        field, field.path,
        "\(type.rawValue) '\(name)' is declared twice (first at line \(earlier.line ?? 0))")
      return nil
    }
    declared[type, default: [:]][name] = field
    return TopologyFile.id(type, name)
  }

  /// The id a name refers to; checked once everything is declared.
  func reference(_ type: ModelType, _ field: Field?) -> ID? {
    guard let field, let name = reader.string(field), !name.isEmpty else { return nil }
    pendingReferences.append((field, type, name))
    return TopologyFile.id(type, name)
  }

  func readTunnelZone(_ field: Field) {
    let f = reader.mapping(field, allowed: ["name"])
    guard let name = reader.name(f, in: field),
      let id = declare(.tunnelZone, name, field)
    else { return }
    snapshot.tunnelZones[id] = TunnelZone(id: id, name: name)
  }

  func readHost(_ field: Field) {
    let f = reader.mapping(field, allowed: ["name", "tunnelZone", "address", "port"])
    guard let name = reader.name(f, in: field), let id = declare(.host, name, field)
    else {
      return
    }
    var host = Host(id: id, name: name)
    if let zone = reference(.tunnelZone, f["tunnelZone"]) {
      host.tunnelZoneIds = [zone]
      guard let address = reader.address(f["address"]) else {
        if f["address"] == nil {
          reader.fail(
            field, "\(field.path).address", "a host in a tunnel zone needs its tunnel address")
        }
        snapshot.hosts[id] = host
        return
      }
      if let problem = Self.unicastProblem(address) {
        reader.fail(f["address"], "\(field.path).address", "\(address) \(problem)")
      }
      let port = reader.int(f["port"], UInt16.self, in: 1...UInt16.max) ?? 6677
      snapshot.tunnelZones[zone]?.members[id] = .init(address: address, port: port)
      // Sorted by id, as the agents keep it when they register: the order the file lists
      // its hosts in is not part of the topology (an export writes them by name).
      snapshot.tunnelZones[zone]?.hostIds.append(id)
      snapshot.tunnelZones[zone]?.hostIds.sort()
    }
    snapshot.hosts[id] = host
  }

  func readPortGroup(_ field: Field) {
    let f = reader.mapping(field, allowed: ["name", "stateful"])
    guard let name = reader.name(f, in: field),
      let id = declare(.portGroup, name, field)
    else { return }
    snapshot.portGroups[id] = PortGroup(
      id: id, name: name, stateful: reader.bool(f["stateful"]) ?? false)
  }

  func readAddressGroup(_ field: Field) {
    let f = reader.mapping(field, allowed: ["name", "addresses"])
    guard let name = reader.name(f, in: field),
      let id = declare(.ipAddrGroup, name, field)
    else { return }
    let addresses = reader.list(f["addresses"]).compactMap { reader.address($0) }
    snapshot.ipAddrGroups[id] = IPAddrGroup(id: id, name: name, addresses: addresses)
  }

  func readBridge(_ field: Field) {
    let f = reader.mapping(
      field,
      allowed: ["name", "adminUp", "inboundFilter", "outboundFilter", "vni", "dhcp", "ports"])
    guard let name = reader.name(f, in: field), let id = declare(.bridge, name, field)
    else {
      return
    }
    var bridge = Bridge(
      id: id, name: name, adminStateUp: reader.bool(f["adminUp"]) ?? true,
      inboundFilterId: reference(.chain, f["inboundFilter"]),
      outboundFilterId: reference(.chain, f["outboundFilter"]),
      vni: reader.int(f["vni"], UInt32.self, in: 0...0xFF_FFFF))
    if let dhcpField = f["dhcp"] {
      let dhcpID = TopologyFile.id(.dhcp, name)
      if let dhcp = readDhcp(dhcpField, id: dhcpID, bridge: id) {
        snapshot.dhcps[dhcpID] = dhcp
        bridge.dhcpIds = [dhcpID]
      }
    }
    snapshot.bridges[id] = bridge
    for port in reader.list(f["ports"]) {
      readPort(port, device: .bridge(id), routerName: nil)
    }
  }

  func readDhcp(_ field: Field, id: ID, bridge: ID) -> Dhcp? {
    let f = reader.mapping(field, allowed: ["subnet", "gateway", "dns", "hosts"])
    guard let subnet = reader.network(f["subnet"]) else {
      if f["subnet"] == nil {
        reader.fail(field, "\(field.path).subnet", "required field is missing")
      }
      return nil
    }
    var hosts: [DhcpHost] = []
    for entry in reader.list(f["hosts"]) {
      let h = reader.mapping(entry, allowed: ["mac", "ip", "name"])
      guard let mac = reader.mac(h["mac"]), let ip = reader.address(h["ip"]) else {
        if h["mac"] == nil || h["ip"] == nil {
          reader.fail(entry, entry.path, "a DHCP host needs mac and ip")
        }
        continue
      }
      if !subnet.contains(ip) {
        reader.fail(h["ip"], "\(entry.path).ip", "\(ip) is outside \(subnet)")
      } else if let problem = Self.hostAddressProblem(ip, in: subnet) {
        reader.fail(h["ip"], "\(entry.path).ip", "\(ip) \(problem)")
      }
      let hostName = reader.string(h["name"]) ?? ""
      if !hostName.isEmpty, let problem = NameRules.problem(name: hostName) {
        reader.fail(
          h["name"], "\(entry.path).name",
          "'\(hostName.debugDescription.dropFirst().dropLast())' \(problem)")
      }
      hosts.append(DhcpHost(mac: mac, ip: ip, name: hostName))
    }
    let gateway = reader.address(f["gateway"])
    if let gateway, !subnet.contains(gateway) {
      reader.fail(f["gateway"], "\(field.path).gateway", "\(gateway) is outside \(subnet)")
    } else if let gateway, let problem = Self.hostAddressProblem(gateway, in: subnet) {
      reader.fail(f["gateway"], "\(field.path).gateway", "\(gateway) \(problem)")
    }
    return Dhcp(
      id: id, bridgeId: bridge, subnet: subnet, gateway: gateway,
      dnsServers: reader.list(f["dns"]).compactMap { reader.address($0) }, hosts: hosts)
  }

  static let portKeys: Set<String> = [
    "name", "host", "interface", "tunnelKey", "inboundFilter", "outboundFilter", "portGroups",
    "vlan",
    "adminUp", "candidates",
  ]

  @discardableResult
  func readPort(_ field: Field, device: DeviceRef, routerName: String?) -> Port? {
    let keys = routerName == nil ? Self.portKeys : Self.portKeys.union(["address", "mac", "link"])
    let f = reader.mapping(field, allowed: keys)
    guard let name = reader.name(f, in: field), let id = declare(.port, name, field)
    else {
      return nil
    }
    var port = Port(
      id: id, device: device, adminStateUp: reader.bool(f["adminUp"]) ?? true,
      inboundFilterId: reference(.chain, f["inboundFilter"]),
      outboundFilterId: reference(.chain, f["outboundFilter"]),
      portGroupIds: reader.list(f["portGroups"]).compactMap { reference(.portGroup, $0) },
      vlanId: reader.int(f["vlan"], UInt16.self, in: 0...4094), name: name)
    if let key = reader.int(f["tunnelKey"], UInt32.self) {
      explicitKeys[id] = (key, f["tunnelKey"]!)
    }
    let host = reference(.host, f["host"])
    let interface = reader.interfaceName(f["interface"])
    if f["interface"] != nil && interface == nil {
      // Reported by interfaceName.
    } else if (host == nil) != (interface == nil) {
      reader.fail(field, field.path, "an exterior port needs both 'host' and 'interface'")
    } else if let host {
      port.hostId = host
      port.interfaceName = interface
    }
    for entry in reader.list(f["candidates"]) {
      let c = reader.mapping(entry, allowed: ["host", "interface", "priority"])
      guard let candidateHost = reference(.host, c["host"]),
        let candidateInterface = reader.interfaceName(c["interface"])
      else {
        if c["host"] == nil || c["interface"] == nil {
          reader.fail(entry, entry.path, "a candidate needs 'host' and 'interface'")
        }
        continue
      }
      port.candidates.append(
        PortCandidate(
          hostId: candidateHost, interfaceName: candidateInterface,
          priority: reader.int(c["priority"], Int32.self) ?? 0))
    }
    if !port.candidates.isEmpty && port.hostId != nil {
      reader.fail(field, field.path, "a port has either 'host' or 'candidates', not both")
    }
    if let routerName {
      guard let prefix = reader.prefix(f["address"]) else {
        if f["address"] == nil {
          reader.fail(
            field, "\(field.path).address", "a router port needs an address like 10.0.0.1/24")
        }
        return nil
      }
      if let problem = Self.hostAddressProblem(prefix.address, in: prefix) {
        reader.fail(
          f["address"], "\(field.path).address",
          "\(prefix) \(problem); a router port needs a host address of its subnet, like \(IPv4Prefix(IPv4Address(rawValue: prefix.network.rawValue + 1), length: prefix.length))"
        )
      }
      port.portAddress = prefix.address
      port.portSubnet = prefix.canonical
      port.portMAC = reader.mac(f["mac"]) ?? Self.derivedMAC(id)
      routerSubnets.append((routerName, prefix.canonical, f["address"]!))
    }
    snapshot.ports[id] = port
    portOrder.append(id)
    if let linkField = f["link"], let bridgeName = reader.string(linkField) {
      linkToBridge(routerPort: id, name: name, bridge: bridgeName, field: linkField)
    }
    return port
  }

  /// A router port linked to a bridge gets an interior peer port on it.
  func linkToBridge(routerPort: ID, name: String, bridge: String, field: Field) {
    pendingReferences.append((field, .bridge, bridge))
    let linkName = TopologyFile.linkPortName(name)
    guard let linkID = declare(.port, linkName, field) else { return }
    let bridgeID = TopologyFile.id(.bridge, bridge)
    snapshot.ports[linkID] = Port(
      id: linkID, device: .bridge(bridgeID), peerId: routerPort, name: linkName)
    snapshot.ports[routerPort]?.peerId = linkID
    portOrder.append(linkID)
  }

  /// Why `address` cannot be a host's unicast address, or nil.
  static func unicastProblem(_ address: IPv4Address) -> String? {
    if address.rawValue >> 24 == 0 { return "is in 0.0.0.0/8 (this network), not a host's address" }
    if address.rawValue >> 28 == 0xE { return "is a multicast address, not a host's address" }
    if address.rawValue >> 28 == 0xF { return "is reserved or broadcast, not a host's address" }
    return nil
  }

  /// Why `address` cannot be a host's address on `subnet`, or nil: a unicast address,
  /// and neither the network nor the broadcast address where the subnet has them (/30
  /// and wider; a /31 is two hosts and a /32 one).
  static func hostAddressProblem(_ address: IPv4Address, in subnet: IPv4Prefix) -> String? {
    if let problem = unicastProblem(address) { return problem }
    guard subnet.length <= 30 else { return nil }
    if address == subnet.network { return "is the network address of \(subnet.canonical)" }
    if address == subnet.broadcast { return "is the broadcast address of \(subnet.canonical)" }
    return nil
  }

  /// A locally administered MAC from the port's id, stable across applies.
  static func derivedMAC(_ id: ID) -> MACAddress {
    MACAddress(rawValue: 0x02_00_0000_0000 | (id.low & 0xFF_FFFF_FFFF))
  }

  func readRouter(_ field: Field) {
    let f = reader.mapping(
      field,
      allowed: [
        "name", "adminUp", "inboundFilter", "outboundFilter", "forwardFilter", "ports", "routes",
        "floatingIps",
      ])
    guard let name = reader.name(f, in: field), let id = declare(.router, name, field)
    else {
      return
    }
    snapshot.routers[id] = Router(
      id: id, name: name, adminStateUp: reader.bool(f["adminUp"]) ?? true,
      inboundFilterId: reference(.chain, f["inboundFilter"]),
      outboundFilterId: reference(.chain, f["outboundFilter"]),
      forwardFilterId: reference(.chain, f["forwardFilter"]))
    for portField in reader.list(f["ports"]) {
      guard let port = readPort(portField, device: .router(id), routerName: name),
        let subnet = port.portSubnet
      else { continue }
      let routeID = TopologyFile.connectedRouteID(router: name, port: port.name)
      snapshot.routes[routeID] = Route(
        id: routeID, routerId: id, dstPrefix: subnet, nextHop: .port, nextHopPortId: port.id)
    }
    for (index, routeField) in reader.list(f["routes"]).enumerated() {
      readRoute(routeField, router: id, routerName: name, index: index)
    }
    readFloatingIPs(reader.list(f["floatingIps"]), router: id, routerName: name, in: field)
  }

  func readRoute(_ field: Field, router: ID, routerName: String, index: Int) {
    let f = reader.mapping(field, allowed: ["dst", "src", "port", "gateway", "weight", "type"])
    guard let dst = reader.network(f["dst"]) else {
      if f["dst"] == nil { reader.fail(field, "\(field.path).dst", "required field is missing") }
      return
    }
    let typeName = reader.string(f["type"]) ?? "port"
    guard let nextHop = Route.NextHop(rawValue: typeName) else {
      reader.fail(
        f["type"], "\(field.path).type",
        "'\(typeName)' is not one of port, blackhole, reject, local")
      return
    }
    let port = reference(.port, f["port"])
    if nextHop == .port && port == nil {
      reader.fail(
        field, "\(field.path).port", "a route of type 'port' needs the router port to send to")
    }
    let gateway = reader.address(f["gateway"])
    if gateway != nil && nextHop != .port {
      reader.fail(
        f["gateway"], "\(field.path).gateway", "only a route of type 'port' has a gateway")
    }
    if let port, let portField = f["port"] {
      routeChecks.append((router, routerName, port, portField, gateway, f["gateway"]))
    }
    let id = ID(name: "Route/\(routerName)/\(index)")
    snapshot.routes[id] = Route(
      id: id, routerId: router, srcPrefix: reader.network(f["src"]) ?? .all,
      dstPrefix: dst.canonical,
      nextHop: nextHop, nextHopPortId: port, nextHopGateway: gateway,
      weight: reader.int(f["weight"], UInt32.self) ?? 100)
  }
}
