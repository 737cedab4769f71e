import ArgumentParser
import CommandSupport
import Foundation
import NSDB
import Topology
import TopologyFile

/// The bounds on a topology file (docs/topology-file.md, "Limits").
struct FileLimitOptions: ParsableArguments {
  @Option(help: "Largest topology file to read, in bytes (K, M, G suffixes: 1024-based).")
  var maxFileSize: ByteCount = ByteCount(TopologyFileLimits.default.maxBytes)
  @Option(help: "Most YAML nodes the file may expand to, each alias counting what it repeats.")
  var maxYamlNodes: Int = TopologyFileLimits.default.maxNodes
  @Option(help: "Most objects the file may describe.")
  var maxObjects: Int = TopologyFileLimits.default.maxObjects

  var limits: TopologyFileLimits {
    TopologyFileLimits(maxBytes: maxFileSize.bytes, maxNodes: maxYamlNodes, maxObjects: maxObjects)
  }
}

/// A size such as `16777216`, `64K`, `16M` or `1G` (1024-based).
struct ByteCount: ExpressibleByArgument, CustomStringConvertible {
  var bytes: Int

  init(_ bytes: Int) { self.bytes = bytes }

  init?(argument: String) {
    var text = argument.uppercased()
    if text.hasSuffix("IB") { text.removeLast(2) } else if text.hasSuffix("B") { text.removeLast() }
    let scale: Int
    switch text.last {
    case "K": scale = 1 << 10
    case "M": scale = 1 << 20
    case "G": scale = 1 << 30
    default: scale = 1
    }
    if scale > 1 { text.removeLast() }
    guard let value = Int(text), value >= 0, value <= Int.max / scale else { return nil }
    bytes = value * scale
  }

  var description: String {
    for (suffix, scale) in [("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)]
    where bytes >= scale && bytes % scale == 0 {
      return "\(bytes / scale)\(suffix)"
    }
    return "\(bytes)"
  }

  var defaultValueDescription: String { description }
}

/// Reads a file of at most `limit` bytes: the size is checked before reading, and a
/// pipe or device is read no further than the limit.
func readBounded(_ path: String, limit: Int) throws -> Data {
  let attributes = try? FileManager.default.attributesOfItem(atPath: path)
  if let size = (attributes?[.size] as? NSNumber)?.intValue,
    attributes?[.type] as? FileAttributeType == .typeRegular, size > limit
  {
    throw CommandError(
      "'\(path)' is \(size) bytes, over the limit of \(limit) bytes for a topology file (raise it with --max-file-size)"
    )
  }
  guard let handle = FileHandle(forReadingAtPath: path) else {
    throw CommandError("cannot read the topology file '\(path)'")
  }
  defer { try? handle.close() }
  let data: Data
  do {
    data = try handle.read(upToCount: limit + 1) ?? Data()
  } catch {
    throw CommandError("cannot read the topology file '\(path)': \(error)")
  }
  guard data.count <= limit else {
    throw CommandError(
      "'\(path)' is over the limit of \(limit) bytes for a topology file (raise it with --max-file-size)"
    )
  }
  return data
}

/// Reads and parses a topology file against the tunnel keys already stored. Unless
/// `prune` (which deletes them), ports the file does not name keep their tunnel keys, so
/// a port in the file may not take one of them.
func loadTopology(
  _ path: String, store: NSDBStore, prune: Bool = false,
  limits: TopologyFileLimits = .default
) async throws
  -> TopologySnapshot
{
  let data = try readBounded(path, limit: limits.maxBytes)
  guard let text = String(data: data, encoding: .utf8) else {
    throw CommandError("'\(path)' is not UTF-8 text")
  }
  var keys: [ID: UInt32] = [:]
  let stored = try await store.getAll(Port.self)
  for port in stored { keys[port.id] = port.tunnelKey }
  let desired: TopologySnapshot
  do {
    desired = try TopologyFile.parse(text, tunnelKeys: keys, limits: limits)
  } catch {
    throw CommandError("\(path): \(error)")
  }
  guard !prune else { return desired }
  var foreign: [UInt32: Topology.Port] = [:]
  for port in stored where desired.ports[port.id] == nil { foreign[port.tunnelKey] = port }
  for port in desired.ports.values.sorted(by: { $0.name < $1.name }) {
    if let other = foreign[port.tunnelKey] {
      throw CommandError(
        "\(path): port '\(port.name)' has tunnel key \(port.tunnelKey), which port '\(other.name)' (not in the file) already uses; choose another key, or delete '\(other.name)' (or apply with --prune)"
      )
    }
  }
  return desired
}

struct Apply: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Make the NSDB hold the topology of a file, atomically and idempotently.")

  @OptionGroup var cluster: ClusterOptions
  @Option(name: .shortAndLong, help: "The topology file (YAML).") var file: String
  @Flag(help: "Delete what the file no longer names.") var prune = false
  @Flag(help: "Only show what would change.") var dryRun = false
  @OptionGroup var limits: FileLimitOptions
  @Option(
    help:
      "Largest ZooKeeper request to send (K, M suffixes): the servers' jute.maxbuffer, if raised.")
  var maxRequestSize = ByteCount(NSDBStore.defaultMaxRequestBytes)

  func run() async throws {
    // Read-only until the commit: the multi creates the layout of a fresh root itself,
    // so a refused file or a failed apply writes nothing at all.
    try await cluster.withStore(readOnly: true, maxRequestBytes: maxRequestSize.bytes) { store in
      let desired = try await loadTopology(
        file, store: store, prune: prune, limits: limits.limits)
      do {
        let plan =
          dryRun
          ? try await store.plan(desired, prune: prune)
          : try await store.apply(desired, prune: prune)
        print(plan)
      } catch {
        let stored = (try? await store.snapshot()) ?? TopologySnapshot()
        throw ApplyError.explain(error, file: file, names: stored.merging(desired))
      }
    }
  }
}

struct Diff: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Show what `apply` would change, without writing.")

  @OptionGroup var cluster: ClusterOptions
  @Option(name: .shortAndLong, help: "The topology file (YAML).") var file: String
  @Flag(help: "Include deletions of what the file no longer names.") var prune = false
  @OptionGroup var limits: FileLimitOptions

  func run() async throws {
    try await cluster.withStore(readOnly: true) { store in
      let desired = try await loadTopology(
        file, store: store, prune: prune, limits: limits.limits)
      print(try await store.plan(desired, prune: prune))
    }
  }
}

struct Export: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Write the whole topology as a file that `apply` recreates exactly.")

  @OptionGroup var cluster: ClusterOptions
  @Flag(
    help:
      "Write what decodes even when some objects are corrupt (they, and references to them, are left out; each is named on stderr)."
  )
  var partial = false

  func run() async throws {
    try await cluster.withStore(readOnly: true) { store in
      let (snapshot, corrupt) = try await store.scan()
      if !corrupt.isEmpty && !partial {
        throw CommandError(
          "refusing to export: \(corrupt.count) stored object\(corrupt.count == 1 ? "" : "s") cannot be decoded, so the file would lack \(corrupt.count == 1 ? "it" : "them") and every reference to \(corrupt.count == 1 ? "it" : "them"):\n"
            + corrupt.map { "  \($0)" }.joined(separator: "\n")
            + "\nRepair them (`midgectl raw get|delete|put`, or apply a file that names them), or export what decodes with --partial."
        )
      }
      warnCorrupt(corrupt, leftOut: "left out of this partial export, with every reference to it")
      print(TopologyFile.render(snapshot), terminator: "")
    }
  }
}

/// A model type as the command line names it.
struct TypeArgument: ExpressibleByArgument {
  var type: ModelType

  init?(argument: String) {
    let key = argument.lowercased().replacingOccurrences(of: "-", with: "")
    let names: [String: ModelType] = [
      "host": .host, "tunnelzone": .tunnelZone, "bridge": .bridge, "router": .router,
      "port": .port, "route": .route, "chain": .chain, "rule": .rule, "portgroup": .portGroup,
      "ipaddrgroup": .ipAddrGroup, "dhcp": .dhcp,
    ]
    guard let type = names[key] ?? names[String(key.dropLast())] else { return nil }
    self.type = type
  }
}

struct Get: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "List objects of a type (bridges, routers, ports, chains, ...), or one by name.")

  enum Format: String, ExpressibleByArgument { case table, yaml, json }

  @OptionGroup var cluster: ClusterOptions
  @Argument(
    help:
      "bridge, router, port, route, chain, rule, host, tunnel-zone, port-group, ip-addr-group, dhcp"
  )
  var type: TypeArgument
  @Argument(help: "Only the object with this name.") var name: String?
  @Option(name: .shortAndLong, help: "table, yaml or json.") var output: Format = .table

  func run() async throws {
    try await cluster.withStore { store in
      var snapshot = try await store.snapshot()
      if output == .yaml {
        snapshot = snapshot.only(type.type, named: name)
        if let name, snapshot.count == 0 {
          throw CommandError("no \(type.type.rawValue) is named '\(name)'")
        }
        print(TopologyFile.render(snapshot), terminator: "")
        return
      }
      var rows = snapshot.rows(type.type)
      if let name { rows = rows.filter { $0.name == name } }
      if let name, rows.isEmpty {
        throw CommandError("no \(type.type.rawValue) is named '\(name)'")
      }
      switch output {
      case .json:
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        print(String(decoding: try encoder.encode(rows), as: UTF8.self))
      default:
        printTable(rows)
      }
    }
  }
}

struct Delete: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Delete one object by name (bindings cascade or clear as declared).")

  @OptionGroup var cluster: ClusterOptions
  @Argument(help: "bridge, router, port, chain, host, tunnel-zone, port-group, ip-addr-group")
  var type: TypeArgument
  @Argument(help: "The object's name.") var name: String

  func run() async throws {
    try await cluster.withStore { store in
      let snapshot = try await store.snapshot()
      guard let row = snapshot.rows(type.type).first(where: { $0.name == name }),
        let id = ID(row.id)
      else {
        let derived = TopologyFile.id(type.type, name)
        if let stored = try? await store.rawRead(type.type, derived), stored.problem != nil {
          throw CommandError(
            "\(type.type.rawValue) '\(name)' (\(derived)) is stored but its bytes cannot be decoded; delete it with `midgectl raw delete \(type.type.rawValue) \(derived)`"
          )
        }
        throw CommandError("no \(type.type.rawValue) is named '\(name)'")
      }
      do {
        try await store.transaction { tx in try await tx.deleteAny(type.type, id) }
      } catch {
        throw ApplyError.explain(error, file: nil, names: snapshot)
      }
      print("deleted \(type.type.rawValue) \(name) (\(id))")
    }
  }
}

/// One line of `midgectl get`.
struct Row: Codable {
  var type: String
  var name: String
  var id: String
  var details: [String: String]
}

func printTable(_ rows: [Row]) {
  let keys = Array(Set(rows.flatMap(\.details.keys))).sorted()
  let header = ["NAME", "ID"] + keys.map { $0.uppercased() }
  let lines = rows.map { row in [row.name, row.id] + keys.map { row.details[$0] ?? "" } }
  let widths = header.indices.map { column in
    ([header] + lines).map { $0[column].count }.max() ?? 0
  }
  for line in [header] + lines {
    print(
      line.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }
        .joined(separator: "  ").trimmingCharacters(in: CharacterSet.whitespaces))
  }
}

struct Graph: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "The topology as Graphviz DOT; with --svg FILE, also SVG when `dot` is installed.")

  @OptionGroup var cluster: ClusterOptions
  @Option(help: "Also render SVG into this file (needs Graphviz's `dot`).") var svg: String?

  func run() async throws {
    let text = try await cluster.withStore { TopologyGraph.dot(try await $0.snapshot()) }
    guard let svg else {
      print(text, terminator: "")
      return
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["dot", "-Tsvg", "-o", svg]
    let input = Pipe()
    process.standardInput = input
    do {
      try process.run()
    } catch {
      throw CommandError("cannot run Graphviz `dot` (apt-get install graphviz): \(error)")
    }
    input.fileHandleForWriting.write(Data(text.utf8))
    try input.fileHandleForWriting.close()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
      throw CommandError("`dot` failed (exit \(process.terminationStatus)); is Graphviz installed?")
    }
    print("wrote \(svg)")
  }
}
