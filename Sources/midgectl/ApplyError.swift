import CommandSupport
import Foundation
import NSDB
import Topology

/// Turns a store error from `apply` or `delete` into what an operator can act on: ids
/// replaced by the names of the objects they identify, and what to do next.
enum ApplyError {
  static func explain(_ error: any Error, file: String?, names: TopologySnapshot) -> CommandError {
    guard let error = error as? NSDBError else { return CommandError("\(error)") }
    let message = named(error.message, names)
    let rerun = file.map { "midgectl apply -f \($0)" } ?? "the command"
    switch error.code {
    case .outcomeUnknown:
      return CommandError(
        "the connection to ZooKeeper was lost while committing (\(message)). The NSDB holds either the old or the new topology, never a mix: `midgectl diff -f \(file ?? "FILE")` shows which, and re-running \(rerun) is safe."
      )
    case .conflict:
      return CommandError(
        "another writer kept changing the same objects (\(message)); re-run \(rerun) when it is done"
      )
    case .danglingReference, .referenceConflict, .stillReferenced:
      return CommandError(
        "\(message); fix the file (or delete the object that holds it) and re-run")
    case .tooLarge:
      return CommandError(
        "\(message). Apply the topology in several smaller files (each apply is one atomic transaction), or raise jute.maxbuffer on every ZooKeeper server and pass --max-request-size"
      )
    case .closed, .zookeeper:
      return CommandError(
        "ZooKeeper failed (\(message)); nothing was changed unless it says otherwise. Check --zk and re-run \(rerun)"
      )
    default:
      return CommandError(message)
    }
  }

  /// `text` with the ids of objects in `names` replaced by "Type 'name'".
  static func named(_ text: String, _ names: TopologySnapshot) -> String {
    var labels: [String: String] = [:]
    func add(_ id: ID, _ type: ModelType, _ name: String) {
      guard !name.isEmpty else { return }
      labels[id.description] = "'\(name)'"
    }
    for value in names.hosts.values { add(value.id, .host, value.name) }
    for value in names.tunnelZones.values { add(value.id, .tunnelZone, value.name) }
    for value in names.bridges.values { add(value.id, .bridge, value.name) }
    for value in names.routers.values { add(value.id, .router, value.name) }
    for value in names.ports.values { add(value.id, .port, value.name) }
    for value in names.chains.values { add(value.id, .chain, value.name) }
    for value in names.portGroups.values { add(value.id, .portGroup, value.name) }
    for value in names.ipAddrGroups.values { add(value.id, .ipAddrGroup, value.name) }
    var result = text
    for (id, label) in labels where result.contains(id) {
      result = result.replacingOccurrences(of: id, with: label)
    }
    return result
  }
}

extension TopologySnapshot {
  /// Both topologies' objects (`other`'s win), for naming ids in messages.
  func merging(_ other: TopologySnapshot) -> TopologySnapshot {
    var result = self
    result.hosts.merge(other.hosts) { $1 }
    result.tunnelZones.merge(other.tunnelZones) { $1 }
    result.bridges.merge(other.bridges) { $1 }
    result.routers.merge(other.routers) { $1 }
    result.ports.merge(other.ports) { $1 }
    result.chains.merge(other.chains) { $1 }
    result.portGroups.merge(other.portGroups) { $1 }
    result.ipAddrGroups.merge(other.ipAddrGroups) { $1 }
    return result
  }
}
