import Topology
import ZooKeeper

/// What applying a desired topology changes, object by object.
public struct ApplyPlan: Sendable, CustomStringConvertible {
  public struct Change: Sendable, Hashable, Comparable {
    public var type: ModelType
    public var id: ID
    public var name: String
    /// What an update changes that an operator should see at a glance, or empty: a
    /// port's binding moving to another host (`host m2 -> m1`).
    public var detail: String = ""

    public static func < (a: Change, b: Change) -> Bool {
      (ApplyPlan.order(a.type), a.name, a.id) < (ApplyPlan.order(b.type), b.name, b.id)
    }
  }

  public var creates: [Change] = []
  public var updates: [Change] = []
  public var deletes: [Change] = []
  /// Objects whose stored bytes cannot be decoded and that the topology names: they are
  /// overwritten with its form.
  public var repairs: [Change] = []

  public var isEmpty: Bool {
    creates.isEmpty && updates.isEmpty && deletes.isEmpty && repairs.isEmpty
  }

  public var description: String {
    if isEmpty { return "no changes" }
    var lines: [String] = []
    for change in creates { lines.append("+ \(change.type.rawValue) \(change.name)") }
    for change in repairs {
      lines.append("! \(change.type.rawValue) \(change.name) (its stored bytes are corrupt)")
    }
    for change in updates {
      let detail = change.detail.isEmpty ? "" : ": \(change.detail)"
      lines.append("~ \(change.type.rawValue) \(change.name)\(detail)")
    }
    for change in deletes { lines.append("- \(change.type.rawValue) \(change.name)") }
    var summary =
      "\(creates.count) to create, \(updates.count) to update, \(deletes.count) to delete"
    if !repairs.isEmpty { summary += ", \(repairs.count) corrupt to overwrite" }
    lines.append(summary)
    return lines.joined(separator: "\n")
  }

  /// Creation order: what a binding needs must exist first.
  static let creationOrder: [ModelType] = [
    .tunnelZone, .host, .chain, .rule, .ipAddrGroup, .portGroup, .bridge, .router, .port, .route,
    .dhcp,
  ]

  static func order(_ type: ModelType) -> Int { creationOrder.firstIndex(of: type) ?? 99 }

  /// The order of the passes that give every object its exact desired form (see
  /// `Transaction.reconcile`). The release pass has already dropped every reference that
  /// moves, so a scalar (`Port.hostId`, a filter, `Route.nextHopPortId`, `Port.peerId`) is
  /// free when its new holder claims it, whatever the order. The order matters where one
  /// side refuses what only the other side can give: a host cannot add a candidate the
  /// port does not list (the entry's interface and priority are the port's), so ports
  /// come before hosts.
  static let updateOrder: [ModelType] = [
    .tunnelZone, .rule, .ipAddrGroup, .portGroup, .bridge, .router, .port, .host, .chain, .route,
    .dhcp,
  ]
}

extension NSDBStore {
  /// Compares `desired` with the NSDB (without writing).
  public func plan(_ desired: TopologySnapshot, prune: Bool) async throws -> ApplyPlan {
    try await transaction { tx in
      try await tx.reconcile(desired, prune: prune, write: false)
    }
  }

  /// Makes the NSDB hold `desired`, in one atomic transaction: objects it
  /// lacks are created, objects that differ updated and, with `prune`,
  /// objects `desired` does not name deleted. Objects not in `desired` are
  /// otherwise left alone, and their references into it are kept.
  /// Re-applying the same topology changes nothing. On a fresh root the layout
  /// is created in the same multi: an apply that fails writes nothing at all.
  ///
  /// On a secured tree (`useAccess`), the state nodes of the topology's hosts and bound
  /// ports are made first with the ACLs that let those hosts write under them: a port
  /// that moves is writable by its old and new host until the move committed, then by
  /// the new one alone.
  @discardableResult
  public func apply(_ desired: TopologySnapshot, prune: Bool) async throws -> ApplyPlan {
    // Only the administrator may set ACLs; anyone else's apply is refused by the models'.
    guard let access, access.creator == access.identities.admin else {
      return try await transaction { tx in
        tx.layout = try await missingLayout()
        return try await tx.reconcile(desired, prune: prune, write: true)
      }
    }
    var previous: [ID: [ID]] = [:]
    for port in try await getAll(Port.self) where desired.ports[port.id] != nil {
      previous[port.id] = port.candidates.map(\.hostId) + (port.hostId.map { [$0] } ?? [])
    }
    let hosts = Array(desired.hosts.keys)
    let ports = Array(desired.ports.values)
    try await secureState(access, hosts: hosts, ports: ports, extraHosts: previous)
    let plan = try await transaction { tx in
      tx.layout = try await missingLayout()
      return try await tx.reconcile(desired, prune: prune, write: true)
    }
    try await secureState(access, hosts: hosts, ports: ports)
    return plan
  }
}

extension Transaction {
  /// Reads every stored object, computes the plan and (with `write`) stages it.
  mutating func reconcile(_ desired: TopologySnapshot, prune: Bool, write: Bool) async throws
    -> ApplyPlan
  {
    // Topology files name filters on devices only; the chains' back-references follow.
    let desired = desired.withFilterBackReferences()
    // An object whose bytes cannot be decoded does not stop the apply: the topology
    // overwrites it if it names it; --prune deletes it otherwise; else it stays as it is.
    toleratesCorrupt = true
    var existing: [ModelType: [ID: any WireCodable]] = [:]
    var corrupt: Set<Key> = []
    for type in ApplyPlan.creationOrder {
      let ids = try await store.untypedIDs(type)
      try await prefetch(type, ids)
      for id in ids {
        let slot = try await slot(type, id)
        if let object = slot.current {
          existing[type, default: [:]][id] = object
        } else if slot.corrupt != nil {
          corrupt.insert(Key(type: type, id: id))
        }
      }
    }
    var wanted: [ModelType: [ID: any WireCodable]] = [:]
    for type in ApplyPlan.creationOrder { wanted[type] = desired.objects(of: type) }

    var plan = ApplyPlan()
    for type in ApplyPlan.creationOrder {
      for (id, object) in wanted[type] ?? [:] {
        let change = ApplyPlan.Change(type: type, id: id, name: Self.name(of: object))
        if corrupt.contains(Key(type: type, id: id)) {
          plan.repairs.append(change)
          if !prune {
            let adopted = adoptForeignReferrers(object, existing: existing, wanted: wanted)
            wanted[type]?[id] = adopted
          }
          continue
        }
        guard let current = existing[type]?[id] else {
          plan.creates.append(change)
          continue
        }
        var merged = object
        if !prune {
          merged = keepForeignReferences(
            merged, current: current, existing: existing, wanted: wanted, corrupt: corrupt)
        }
        wanted[type]?[id] = merged
        if try ModelCodec.encode(merged) != ModelCodec.encode(current) {
          var update = change
          update.detail = Self.detail(merged, current: current, existing: existing, wanted: wanted)
          plan.updates.append(update)
        }
      }
      if prune {
        for (id, object) in existing[type] ?? [:] where wanted[type]?[id] == nil {
          plan.deletes.append(ApplyPlan.Change(type: type, id: id, name: Self.name(of: object)))
        }
        for key in corrupt where key.type == type && wanted[type]?[key.id] == nil {
          plan.deletes.append(
            ApplyPlan.Change(type: type, id: key.id, name: "\(key.id) (corrupt)"))
        }
      }
    }
    plan.creates.sort()
    plan.updates.sort()
    plan.deletes.sort()
    plan.repairs.sort()
    guard write, !plan.isEmpty else { return plan }

    // Deletes first (most dependent first), so names and keys can be reused.
    for change in plan.deletes.reversed() {
      if corrupt.contains(Key(type: change.type, id: change.id)) {
        slots[Key(type: change.type, id: change.id)]?.dropCorrupt = true
      } else {
        try await delete(change.type, change.id, reason: "prune")
      }
    }
    // Creates with their back-reference lists empty: the bindings fill them. A corrupt
    // object the topology names is created over its bytes the same way.
    for change in plan.creates + plan.repairs {
      guard let object = wanted[change.type]?[change.id] else { continue }
      let stripped = store.bindings.strippingBackReferences(object)
      try await createUntyped(stripped)
    }
    // Then every wanted object takes its exact desired form, in two passes. First each
    // drops the references its desired form does not hold, and the bindings release the
    // other sides: a port moving from host m2 to m1 clears its hostId and leaves m2's
    // portIds. Only then does each take its desired form, which only adds references
    // (and sets the order of lists, members): m1 lists the port, whose hostId is free to
    // take m1. Claiming first would find the reference still held by its old holder (a
    // conflict). Both passes stage writes in this one transaction: the commit is still
    // one multi, so no reader ever sees the port between its hosts.
    for type in ApplyPlan.updateOrder {
      for (id, object) in (wanted[type] ?? [:]).sorted(by: { $0.key < $1.key }) {
        guard let current = try await slot(type, id).current else { continue }
        if let released = store.bindings.releasing(current, keeping: object) {
          try await updateUntyped(released)
        }
      }
    }
    for type in ApplyPlan.updateOrder {
      for (_, object) in (wanted[type] ?? [:]).sorted(by: { $0.key < $1.key }) {
        try await updateUntyped(object)
      }
    }
    // What referenced an overwritten object that its new form does not reference back.
    for change in plan.repairs {
      try await releaseUnreturnedReferrers(change.type, change.id)
    }
    return plan
  }

  /// In a merge (no prune), list references that point at objects outside
  /// the desired topology stay (a port someone else put on a bridge).
  /// References to objects whose bytes cannot be decoded (`corrupt`) are kept too: whether
  /// they reference back cannot be read.
  func keepForeignReferences(
    _ object: any WireCodable, current: any WireCodable,
    existing: [ModelType: [ID: any WireCodable]], wanted: [ModelType: [ID: any WireCodable]],
    corrupt: Set<Key>
  ) -> any WireCodable {
    var result = object
    let type = Swift.type(of: object).modelType
    for (field, other, _) in store.bindings.sides(of: type) {
      let now = field.get(result)
      for extra in field.get(current)
      where !now.contains(extra) && wanted[other.type]?[extra] == nil {
        if let referrer = existing[other.type]?[extra], other.get(referrer).contains(object.id) {
          result = (try? field.add(result, extra)) ?? result
        } else if corrupt.contains(Key(type: other.type, id: extra)) {
          result = (try? field.add(result, extra)) ?? result
        }
      }
    }
    // A kept member of a tunnel zone keeps its endpoint too (agents publish their own;
    // a file that does not name the host must not take its tunnel away).
    if var zone = result as? TunnelZone, let stored = current as? TunnelZone {
      for host in zone.hostIds where zone.members[host] == nil {
        zone.members[host] = stored.members[host]
      }
      result = zone
    }
    return result
  }

  /// In a merge (no prune), a corrupt object the topology overwrites keeps the objects
  /// outside the topology that reference it (its own list of them cannot be read, so it
  /// is read from their side): a port someone else put on a bridge whose bytes broke.
  func adoptForeignReferrers(
    _ object: any WireCodable, existing: [ModelType: [ID: any WireCodable]],
    wanted: [ModelType: [ID: any WireCodable]]
  ) -> any WireCodable {
    var result = object
    let type = Swift.type(of: object).modelType
    for (field, other, _) in store.bindings.sides(of: type) {
      for (id, referrer) in existing[other.type] ?? [:]
      where wanted[other.type]?[id] == nil && other.get(referrer).contains(object.id) {
        result = (try? field.add(result, id)) ?? result
      }
    }
    return result
  }

  /// What an operator should see of an update at a glance (`ApplyPlan.Change.detail`):
  /// a port's binding that moves, binds or unbinds, with the hosts' names.
  static func detail(
    _ object: any WireCodable, current: any WireCodable,
    existing: [ModelType: [ID: any WireCodable]], wanted: [ModelType: [ID: any WireCodable]]
  ) -> String {
    guard let port = object as? Port, let before = current as? Port,
      port.hostId != before.hostId
    else { return "" }
    func host(_ id: ID?) -> String {
      guard let id else { return "none" }
      guard let object = wanted[.host]?[id] ?? existing[.host]?[id] else { return id.description }
      return name(of: object)
    }
    return "host \(host(before.hostId)) -> \(host(port.hostId))"
  }

  mutating func createUntyped(_ object: any WireCodable) async throws {
    try await create(object)
  }

  mutating func updateUntyped(_ object: any WireCodable) async throws {
    try await update(object)
  }

  static func name(of object: any WireCodable) -> String {
    switch object {
    case let value as Host: return value.name
    case let value as TunnelZone: return value.name
    case let value as Bridge: return value.name
    case let value as Router: return value.name
    case let value as Port: return value.name
    case let value as Chain: return value.name
    case let value as PortGroup: return value.name
    case let value as IPAddrGroup: return value.name
    case let value as Route: return "\(value.dstPrefix) (router \(value.routerId))"
    case let value as Rule: return "rule of chain \(value.chainId)"
    case let value as Dhcp: return "\(value.subnet)"
    default: return object.id.description
    }
  }
}

extension NSDBStore {
  func untypedIDs(_ type: ModelType) async throws -> [ID] {
    do {
      return try await client.children(paths.models(type)).children.compactMap(ID.init)
    } catch let error as ZooKeeperError where error.code == .noNode {
      return []
    } catch {
      throw NSDBError.zookeeper(error, "listing \(type.rawValue)")
    }
  }
}

extension TopologySnapshot {
  func objects(of type: ModelType) -> [ID: any WireCodable] {
    switch type {
    case .host: return hosts
    case .tunnelZone: return tunnelZones
    case .bridge: return bridges
    case .router: return routers
    case .port: return ports
    case .route: return routes
    case .chain: return chains
    case .rule: return rules
    case .portGroup: return portGroups
    case .ipAddrGroup: return ipAddrGroups
    case .dhcp: return dhcps
    }
  }
}

extension [Binding] {
  /// `object` without the references that `desired` (the same object's desired form)
  /// does not hold, or nil when it holds them all: each binding's field of its type loses
  /// the targets `desired` lacks. Updating to it only releases (the other sides lose
  /// `object`), never claims.
  func releasing(_ object: any WireCodable, keeping desired: any WireCodable)
    -> (any WireCodable)?
  {
    var result = object
    var released = false
    for (field, _, _) in sides(of: Swift.type(of: object).modelType) {
      let kept = field.get(desired)
      for target in field.get(result) where !kept.contains(target) {
        result = field.remove(result, target)
        released = true
      }
    }
    return released ? result : nil
  }

  /// The object with every reference that a binding fills from the other
  /// side removed (lists emptied, optional peers cleared), for creation.
  func strippingBackReferences(_ object: any WireCodable) -> any WireCodable {
    switch object {
    case var bridge as Bridge:
      bridge.portIds = []
      bridge.dhcpIds = []
      return bridge
    case var router as Router:
      router.portIds = []
      router.routeIds = []
      return router
    case var port as Port:
      port.routeIds = []
      port.peerId = nil
      return port
    case var host as Host:
      host.portIds = []
      host.candidatePortIds = []
      return host
    case var zone as TunnelZone:
      zone.hostIds = []
      zone.members = [:]
      return zone
    case var chain as Chain:
      chain.ruleIds = []
      chain.bridgeInboundIds = []
      chain.bridgeOutboundIds = []
      chain.routerInboundIds = []
      chain.routerOutboundIds = []
      chain.routerForwardIds = []
      chain.portInboundIds = []
      chain.portOutboundIds = []
      return chain
    case var group as PortGroup:
      group.portIds = []
      return group
    default:
      return object
    }
  }
}
