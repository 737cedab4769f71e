import ArgumentParser
import CommandSupport
import Foundation
import Kubernetes
import Logging
import NSDB
import Topology
import TopologyFile

/// `midgectl k8s`: Kubernetes objects → topology (docs/kubernetes.md).
struct K8s: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "k8s",
    abstract:
      "Translate Kubernetes manifests (Namespace, Pod, Service, NetworkPolicy) into topology.",
    subcommands: [K8sApply.self, K8sTranslate.self])
}

/// Reads manifests and translates them against the tunnel keys already stored.
func translateManifests(_ path: String, tunnelKeys: [ID: UInt32]) throws -> K8sTranslation {
  guard let data = FileManager.default.contents(atPath: path) else {
    throw CommandError("cannot read the manifests '\(path)'")
  }
  guard let text = String(data: data, encoding: .utf8) else {
    throw CommandError("'\(path)' is not UTF-8 text")
  }
  let translation: K8sTranslation
  do {
    translation = try K8sTranslator(existingTunnelKeys: tunnelKeys).translate(yaml: text)
  } catch {
    throw CommandError("\(path):\n\(error)")
  }
  for warning in translation.warnings {
    FileHandle.standardError.write(Data("warning: \(warning)\n".utf8))
  }
  return translation
}

struct K8sApply: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "apply",
    abstract: "Make the NSDB hold the translation of the manifests, atomically and idempotently.")

  @OptionGroup var cluster: ClusterOptions
  @Option(name: .shortAndLong, help: "The manifests (YAML, several documents or a List).")
  var file: String
  @Flag(help: "Delete translated objects the manifests no longer name (never anything else).")
  var prune = false
  @Flag(help: "Only show what would change.") var dryRun = false

  func run() async throws {
    try await cluster.withStore { store in
      var keys: [ID: UInt32] = [:]
      for port in try await store.getAll(Port.self) { keys[port.id] = port.tunnelKey }
      let translation = try translateManifests(file, tunnelKeys: keys)
      let current = try await store.snapshot()
      let desired =
        prune
        ? translation.desired(pruning: current) : translation.desired(keepingHostsOf: current)
      let plan =
        dryRun
        ? try await store.plan(desired, prune: prune) : try await store.apply(desired, prune: prune)
      print(plan)
      guard !dryRun else { return }
      // Bridges a pruning apply removed keep no stale entries either.
      let gone = current.bridges.values.filter {
        K8sNames.isTranslated(name: $0.name) && translation.snapshot.bridges[$0.id] == nil
      }
      let (added, removed) = try await seedStateTables(
        translation, clearing: prune ? gone.map(\.id) : [], store: store)
      if added + removed > 0 {
        print("state tables: \(added) pod MAC/ARP entries added, \(removed) removed")
      }
    }
  }

  /// Writes the pods' MACs into their bridges' MAC tables and their addresses
  /// into the router's ARP table as persistent entries, as MidoNet's port
  /// translation does, and removes persistent entries of pods that are gone.
  /// Learned entries of agents are left alone (they win while they exist).
  /// `clearing` names bridges that are gone: their persistent entries go too.
  func seedStateTables(_ translation: K8sTranslation, clearing: [ID], store: NSDBStore)
    async throws -> (Int, Int)
  {
    let logger = Logger(label: "midgectl.k8s")
    var added = 0
    var removed = 0
    func sync(_ table: StateTable, wanted: Set<[String]>) async throws {
      let present = try await table.entries().filter(\.persistent)
      for entry in present where !wanted.contains([entry.key, entry.value]) {
        removed += try await table.remove(key: entry.key, value: entry.value, persistent: true)
      }
      let have = Set(present.map { [$0.key, $0.value] })
      for pair in wanted.sorted(by: { $0.lexicographicallyPrecedes($1) }) where !have.contains(pair)
      {
        try await table.add(key: pair[0], value: pair[1], persistent: true)
        added += 1
      }
    }
    for bridge in translation.snapshot.bridges.keys.sorted() + clearing.sorted() {
      let wanted = Set(
        translation.macEntries.filter { $0.bridge == bridge }.map {
          [$0.mac.description, $0.port.description]
        })
      let table = MACTable.macTable(
        client: store.client, paths: store.paths, bridge: bridge, logger: logger)
      try await sync(table.table, wanted: wanted)
    }
    for router in translation.snapshot.routers.keys.sorted() {
      let wanted = Set(
        translation.arpEntries.filter { $0.router == router }.map {
          [$0.ip.description, $0.mac.description]
        })
      let table = ARPTable.arpTable(
        client: store.client, paths: store.paths, router: router, logger: logger)
      try await sync(table.table, wanted: wanted)
    }
    return (added, removed)
  }
}

struct K8sTranslate: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "translate",
    abstract: "Print the topology file the manifests translate to (no cluster needed).")

  @Option(name: .shortAndLong, help: "The manifests (YAML, several documents or a List).")
  var file: String

  func run() async throws {
    let translation = try translateManifests(file, tunnelKeys: [:])
    print(TopologyFile.render(translation.snapshot), terminator: "")
  }
}
