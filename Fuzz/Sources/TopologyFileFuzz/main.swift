// libFuzzer harness for topology files (`midgectl apply -f`): `TopologyFile.parse` reads
// any YAML an operator writes, through Yams, into a snapshot or a list of errors.
//
// Invariants, besides "never traps", for a file that parses:
//  - `export` (`TopologyFile.render`) writes a file that parses to the same snapshot, as
//    its documentation promises;
//  - parsing again with the tunnel keys the ports got keeps the same snapshot (a re-apply
//    changes nothing);
//  - the graph export (`TopologyGraph.dot`) does not trap.
//
// Known gaps (Fuzz/regressions/topologyfile/): `render` writes a router's routes in id
// order, but `parse` names routes by position, so an exported file can give the same
// routes other ids (route-order.yaml); it writes hosts by name, so a tunnel zone's
// `hostIds` came back in another order (zone-member-order.yaml); and it writes bridges by
// name, so a host whose ports sit on bridges the file does not list in name order got
// its `portIds` back in another order (host-port-order.yaml). All three are fixed; the
// export check still compares routes by content and zone members and a host's ports as
// sets, and MIDGE_FUZZ_STRICT=1 compares exactly.
import FuzzSupport
import Topology
import TopologyFile

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

let strict = getenv("MIDGE_FUZZ_STRICT").map { String(cString: $0) == "1" } ?? false

runFuzzer { bytes in
  guard let snapshot = try? TopologyFile.parse(text(bytes)) else { return }
  let rendered = TopologyFile.render(snapshot)
  do {
    let again = try TopologyFile.parse(rendered)
    require(
      strict ? again == snapshot : lenient(again) == lenient(snapshot),
      "the exported file parses to another snapshot:\n\(rendered)\n"
        + difference(snapshot, again))
  } catch {
    fatalError("the exported file does not parse: \(error)\n\(rendered)")
  }
  let keys = snapshot.ports.mapValues(\.tunnelKey)
  do {
    let again = try TopologyFile.parse(text(bytes), tunnelKeys: keys)
    require(again == snapshot, "parsing with the ports' own tunnel keys changes the snapshot")
  } catch {
    fatalError("parsing with the ports' own tunnel keys fails: \(error)")
  }
  _ = TopologyGraph.dot(snapshot)
}

/// `snapshot` without the differences the known gaps make: every route's id replaced by
/// one derived from what the route is, and tunnel zone members and hosts' ports in id
/// order.
func lenient(_ snapshot: TopologySnapshot) -> TopologySnapshot {
  var result = snapshot
  var renamed: [ID: ID] = [:]
  result.routes = [:]
  for var route in snapshot.routes.values {
    let old = route.id
    route.id = ID(high: 0, low: 0)
    route.id = ID(name: "\(route)")
    renamed[old] = route.id
    result.routes[route.id] = route
  }
  func rename(_ ids: [ID]) -> [ID] { ids.map { renamed[$0] ?? $0 }.sorted() }
  for id in result.routers.keys {
    result.routers[id]?.routeIds = rename(snapshot.routers[id]!.routeIds)
  }
  for id in result.ports.keys {
    result.ports[id]?.routeIds = rename(snapshot.ports[id]!.routeIds)
  }
  for id in result.tunnelZones.keys { result.tunnelZones[id]?.hostIds.sort() }
  for id in result.hosts.keys {
    result.hosts[id]?.portIds.sort()
    result.hosts[id]?.candidatePortIds.sort()
  }
  return result
}

/// What differs between two snapshots, object by object, so that a broken round trip says
/// which objects it changed.
func difference(_ lhs: TopologySnapshot, _ rhs: TopologySnapshot) -> String {
  var lines: [String] = []
  func compare<T: Hashable>(_ what: String, _ left: [ID: T], _ right: [ID: T]) {
    for id in Set(left.keys).union(right.keys).sorted() where left[id] != right[id] {
      let before = left[id].map { "\($0)" } ?? "none"
      let after = right[id].map { "\($0)" } ?? "none"
      lines.append("\(what) \(id):\n  parsed:   \(before)\n  exported: \(after)")
    }
  }
  compare("host", lhs.hosts, rhs.hosts)
  compare("tunnel zone", lhs.tunnelZones, rhs.tunnelZones)
  compare("bridge", lhs.bridges, rhs.bridges)
  compare("router", lhs.routers, rhs.routers)
  compare("port", lhs.ports, rhs.ports)
  compare("route", lhs.routes, rhs.routes)
  compare("chain", lhs.chains, rhs.chains)
  compare("rule", lhs.rules, rhs.rules)
  compare("port group", lhs.portGroups, rhs.portGroups)
  compare("address group", lhs.ipAddrGroups, rhs.ipAddrGroups)
  compare("DHCP subnet", lhs.dhcps, rhs.dhcps)
  return lines.isEmpty ? "(the snapshots differ in no object)" : lines.joined(separator: "\n")
}
