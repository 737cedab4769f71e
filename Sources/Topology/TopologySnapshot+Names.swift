extension TopologySnapshot {
  /// `text` (a trace step, a drop reason) with the ids of the named objects it mentions
  /// (ports, bridges, routers, chains) replaced by their quoted names, as an operator
  /// reads them. Ids of objects not in the snapshot stay as they are.
  public func naming(_ text: String) -> String {
    var names: [String: String] = [:]
    for port in ports.values { names[port.id.description] = "'\(port.name)'" }
    for bridge in bridges.values { names[bridge.id.description] = "'\(bridge.name)'" }
    for router in routers.values { names[router.id.description] = "'\(router.name)'" }
    for chain in chains.values { names[chain.id.description] = "'\(chain.name)'" }
    var result = text
    for (id, name) in names where result.contains(id) {
      result = result.replacing(id, with: name)
    }
    return result
  }
}
