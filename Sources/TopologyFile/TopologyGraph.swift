import Topology

/// The topology as a Graphviz DOT graph: devices as boxes, exterior ports as
/// ellipses labelled with their host and interface, interior links as edges
/// between devices, hosts as clusters are not drawn (ports name them).
public enum TopologyGraph {
  public static func dot(_ snapshot: TopologySnapshot) -> String {
    var lines = ["digraph midge {", "  rankdir=LR;", "  node [fontname=\"Helvetica\"];"]
    func quote(_ text: String) -> String {
      // Labels carry DOT's own "\n" line breaks, so only quotes are escaped.
      "\"" + text.replacingAll("\"", with: "\\\"") + "\""
    }
    for bridge in snapshot.bridges.values.sorted(by: { $0.name < $1.name }) {
      lines.append(
        "  \(quote("\(bridge.id)")) [shape=box, style=filled, fillcolor=\"#dbe9f6\", label=\(quote("bridge \(bridge.name)"))];"
      )
    }
    for router in snapshot.routers.values.sorted(by: { $0.name < $1.name }) {
      lines.append(
        "  \(quote("\(router.id)")) [shape=box, style=\"filled,rounded\", fillcolor=\"#f6e3db\", label=\(quote("router \(router.name)"))];"
      )
    }
    var drawnLinks = Set<ID>()
    for port in snapshot.ports.values.sorted(by: { $0.name < $1.name }) {
      let device = quote("\(port.device.id)")
      if let peerID = port.peerId, let peer = snapshot.ports[peerID] {
        guard !drawnLinks.contains(port.id) else { continue }
        drawnLinks.insert(peerID)
        var label = port.name + " ↔ " + peer.name
        if let address = port.portAddress ?? peer.portAddress { label += "\\n\(address)" }
        lines.append(
          "  \(device) -> \(quote("\(peer.device.id)")) [dir=both, label=\(quote(label))];")
        continue
      }
      var label = port.name
      if let host = port.hostId.flatMap({ snapshot.hosts[$0] }) {
        label += "\\n\(host.name):\(port.interfaceName ?? "?")"
      }
      if let address = port.portAddress { label += "\\n\(address)" }
      label += "\\nkey \(port.tunnelKey)"
      let style = port.adminStateUp ? "" : ", style=dashed"
      lines.append("  \(quote("\(port.id)")) [shape=ellipse\(style), label=\(quote(label))];")
      lines.append("  \(device) -> \(quote("\(port.id)")) [arrowhead=none];")
    }
    lines.append("}")
    return lines.joined(separator: "\n") + "\n"
  }
}

extension String {
  func replacingAll(_ target: String, with replacement: String) -> String {
    split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
  }
}
