import Topology

/// What deleting an object does to the objects one of its fields references.
public enum DeletePolicy: Sendable {
  /// Delete them too.
  case cascade
  /// Remove the deleted object from their back-reference.
  case clear
  /// Refuse the delete while any is referenced.
  case error
}

/// One reference field of one model type, read and edited on type-erased objects.
///
/// `add` and `remove` return the edited copy; `add` throws when a scalar field
/// already points at another object (a port cannot be stolen from its device).
struct RefField: @unchecked Sendable {
  let type: ModelType
  let name: String
  let get: (any WireCodable) -> [ID]
  let add: (any WireCodable, ID) throws(NSDBError) -> any WireCodable
  let remove: (any WireCodable, ID) -> any WireCodable

  /// A list of ids (`Bridge.portIds`): add appends once, remove drops all; order is kept.
  static func list<T: WireCodable>(_ path: WritableKeyPath<T, [ID]>, _ name: String) -> RefField {
    RefField(
      type: T.modelType, name: "\(T.modelType.rawValue).\(name)",
      get: { ($0 as? T)?[keyPath: path] ?? [] },
      add: { object, id in
        guard var value = object as? T else { return object }
        if !value[keyPath: path].contains(id) { value[keyPath: path].append(id) }
        return value
      },
      remove: { object, id in
        guard var value = object as? T else { return object }
        value[keyPath: path].removeAll { $0 == id }
        return value
      })
  }

  /// An optional single id (`Port.peerId`).
  static func scalar<T: WireCodable>(_ path: WritableKeyPath<T, ID?>, _ name: String) -> RefField {
    let field = "\(T.modelType.rawValue).\(name)"
    return RefField(
      type: T.modelType, name: field,
      get: { object in (object as? T)?[keyPath: path].map { [$0] } ?? [] },
      add: { (object, id) throws(NSDBError) in
        guard var value = object as? T else { return object }
        if let current = value[keyPath: path], current != id {
          throw NSDBError(
            .referenceConflict,
            "\(field) of \(T.modelType.rawValue) \(value.id) already references \(current); cannot also bind \(id)"
          )
        }
        value[keyPath: path] = id
        return value
      },
      remove: { object, id in
        guard var value = object as? T, value[keyPath: path] == id else { return object }
        value[keyPath: path] = nil
        return value
      })
  }

  /// A required single id (`Route.routerId`): it can be set only to itself,
  /// and is never cleared (its binding's policy on the other side is CASCADE).
  static func required<T: WireCodable>(_ path: KeyPath<T, ID>, _ name: String) -> RefField {
    let field = "\(T.modelType.rawValue).\(name)"
    return RefField(
      type: T.modelType, name: field,
      get: { object in (object as? T).map { [$0[keyPath: path]] } ?? [] },
      add: { (object, id) throws(NSDBError) in
        guard let value = object as? T else { return object }
        guard value[keyPath: path] == id else {
          throw NSDBError(
            .referenceConflict,
            "\(field) of \(T.modelType.rawValue) \(value.id) is \(value[keyPath: path]); cannot bind \(id)"
          )
        }
        return value
      },
      remove: { object, _ in object })
  }

  /// `Port.bridgeId` / `Port.routerId`: the port's device.
  static func portDevice(_ kind: ModelType) -> RefField {
    let field = "Port.\(kind == .bridge ? "bridgeId" : "routerId")"
    return RefField(
      type: .port, name: field,
      get: { object in
        guard let port = object as? Port, port.device.modelType == kind else { return [] }
        return [port.device.id]
      },
      add: { (object, id) throws(NSDBError) in
        guard let port = object as? Port else { return object }
        guard port.device.modelType == kind && port.device.id == id else {
          throw NSDBError(
            .referenceConflict,
            "port \(port.id) belongs to \(port.device.modelType.rawValue) \(port.device.id); cannot bind it to \(kind.rawValue) \(id)"
          )
        }
        return port
      },
      remove: { object, _ in object })
  }
}

/// A reference declared once for both of its sides, with what deleting
/// either side does to the other (MidoNet's field bindings).
struct Binding: Sendable {
  let left: RefField
  let right: RefField
  /// When a `left` object is deleted, what happens to the `right` objects it references.
  let onDeleteLeft: DeletePolicy
  /// When a `right` object is deleted, what happens to the `left` objects it references.
  let onDeleteRight: DeletePolicy

}

extension [Binding] {
  /// The sides of bindings that start at `type`: (this side, other side, policy on delete).
  func sides(of type: ModelType) -> [(RefField, RefField, DeletePolicy)] {
    var result: [(RefField, RefField, DeletePolicy)] = []
    for binding in self {
      if binding.left.type == type {
        result.append((binding.left, binding.right, binding.onDeleteLeft))
      }
      if binding.right.type == type
        && !(binding.left.type == type && binding.left.name == binding.right.name)
      {
        result.append((binding.right, binding.left, binding.onDeleteRight))
      }
    }
    return result
  }
}

extension Binding {
  /// The bindings of the model (docs/architecture.md), as MidoNet declares them.
  static let standard: [Binding] =
    filterBindings + [
      Binding(
        left: .list(\Bridge.portIds, "portIds"), right: .portDevice(.bridge),
        onDeleteLeft: .cascade, onDeleteRight: .clear),
      Binding(
        left: .list(\Router.portIds, "portIds"), right: .portDevice(.router),
        onDeleteLeft: .cascade, onDeleteRight: .clear),
      Binding(
        left: .list(\Router.routeIds, "routeIds"), right: .required(\Route.routerId, "routerId"),
        onDeleteLeft: .cascade, onDeleteRight: .clear),
      Binding(
        left: .list(\Port.routeIds, "routeIds"),
        right: .scalar(\Route.nextHopPortId, "nextHopPortId"),
        onDeleteLeft: .cascade, onDeleteRight: .clear),
      Binding(
        left: .scalar(\Port.peerId, "peerId"), right: .scalar(\Port.peerId, "peerId"),
        onDeleteLeft: .clear, onDeleteRight: .clear),
      Binding(
        left: .scalar(\Port.hostId, "hostId"), right: .list(\Host.portIds, "portIds"),
        onDeleteLeft: .clear, onDeleteRight: .clear),
      Binding(
        left: .list(\Port.portGroupIds, "portGroupIds"),
        right: .list(\PortGroup.portIds, "portIds"),
        onDeleteLeft: .clear, onDeleteRight: .clear),
      Binding(
        left: .required(\Rule.chainId, "chainId"), right: .list(\Chain.ruleIds, "ruleIds"),
        onDeleteLeft: .clear, onDeleteRight: .cascade),
      Binding(
        left: .portCandidates, right: .list(\Host.candidatePortIds, "candidatePortIds"),
        onDeleteLeft: .clear, onDeleteRight: .clear),
      Binding(
        left: .list(\Host.tunnelZoneIds, "tunnelZoneIds"), right: .tunnelZoneHosts,
        onDeleteLeft: .clear, onDeleteRight: .clear),
      Binding(
        left: .list(\Bridge.dhcpIds, "dhcpIds"), right: .required(\Dhcp.bridgeId, "bridgeId"),
        onDeleteLeft: .cascade, onDeleteRight: .clear),
    ]
}

extension Binding {
  /// Filter references (a bridge's, router's or port's inbound, outbound or forward
  /// chain) and the chain's back-reference list for each: deleting the device or port
  /// takes it off the chain's list, deleting the chain clears the filter.
  static let filterBindings: [Binding] = [
    filter(
      .scalar(\Bridge.inboundFilterId, "inboundFilterId"), \.bridgeInboundIds, "bridgeInboundIds"),
    filter(
      .scalar(\Bridge.outboundFilterId, "outboundFilterId"), \.bridgeOutboundIds,
      "bridgeOutboundIds"),
    filter(
      .scalar(\Router.inboundFilterId, "inboundFilterId"), \.routerInboundIds, "routerInboundIds"),
    filter(
      .scalar(\Router.outboundFilterId, "outboundFilterId"), \.routerOutboundIds,
      "routerOutboundIds"),
    filter(
      .scalar(\Router.forwardFilterId, "forwardFilterId"), \.routerForwardIds, "routerForwardIds"),
    filter(.scalar(\Port.inboundFilterId, "inboundFilterId"), \.portInboundIds, "portInboundIds"),
    filter(
      .scalar(\Port.outboundFilterId, "outboundFilterId"), \.portOutboundIds, "portOutboundIds"),
  ]

  private static func filter(
    _ field: RefField, _ backReference: WritableKeyPath<Chain, [ID]>, _ name: String
  ) -> Binding {
    Binding(
      left: field, right: .list(backReference, name), onDeleteLeft: .clear, onDeleteRight: .clear)
  }
}

extension RefField {
  /// `Port.candidates`, seen as the list of their hosts. A candidate carries an interface
  /// and a priority only the port can give, so the host side cannot add one: adding a
  /// host already listed is a no-op, any other is refused. Removing a host (it was
  /// deleted) drops its candidate entry.
  static var portCandidates: RefField {
    RefField(
      type: .port, name: "Port.candidates",
      get: { ($0 as? Port)?.candidates.map(\.hostId) ?? [] },
      add: { (object, id) throws(NSDBError) in
        guard let port = object as? Port else { return object }
        guard port.candidate(for: id) != nil else {
          throw NSDBError(
            .referenceConflict,
            "Port.candidates of port \(port.id) does not list host \(id); candidates are set on the port"
          )
        }
        return port
      },
      remove: { object, id in
        guard var port = object as? Port else { return object }
        port.candidates.removeAll { $0.hostId == id }
        return port
      })
  }

  /// `TunnelZone.hostIds`, whose removal also drops the host's endpoint.
  static var tunnelZoneHosts: RefField {
    let list = RefField.list(\TunnelZone.hostIds, "hostIds")
    return RefField(
      type: .tunnelZone, name: list.name, get: list.get, add: list.add,
      remove: { object, id in
        guard var zone = list.remove(object, id) as? TunnelZone else { return object }
        zone.members.removeValue(forKey: id)
        return zone
      })
  }
}
