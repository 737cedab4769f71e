import Topology
import Yams

/// The declarative topology file of `midgectl apply` (docs/topology-file.md).
///
/// Parsing is total: every problem is collected with its line and field,
/// and a file with any problem yields no topology, so nothing is written.
/// Object ids derive from names (``TopologyFile/id(_:_:)``), so the same file
/// always describes the same objects and re-applying it changes nothing.
public enum TopologyFile {
  /// The stable id of the object of `type` called `name`.
  public static func id(_ type: ModelType, _ name: String) -> ID {
    ID(name: "\(type.rawValue)/\(name)")
  }

  /// The id of the interior bridge port a router port's `link` creates.
  public static func linkPortName(_ routerPort: String) -> String { routerPort + "-link" }

  /// The id of the route to a router port's own subnet.
  public static func connectedRouteID(router: String, port: String) -> ID {
    ID(name: "Route/\(router)/connected/\(port)")
  }

  /// A whole-file limit was passed (no line to point at).
  static func overLimit(_ message: String) -> TopologyFileErrors {
    TopologyFileErrors(errors: [
      TopologyFileError(line: nil, column: nil, field: "(file)", message: message, code: .limit)
    ])
  }

  /// Parses `text` into a topology. `tunnelKeys` are the keys ports already
  /// have (kept on re-apply); new ports without a `tunnelKey` get the lowest free ones.
  /// Nothing is composed or built from a file over one of `limits`.
  public static func parse(
    _ text: String, tunnelKeys: [ID: UInt32] = [:], limits: TopologyFileLimits = .default
  )
    throws(TopologyFileErrors)
    -> TopologySnapshot
  {
    guard text.utf8.count <= limits.maxBytes else {
      throw Self.overLimit(
        "the file is \(text.utf8.count) bytes, over the limit of \(limits.maxBytes) bytes (raise it with --max-file-size)"
      )
    }
    do {
      try YAMLBudget.check(text, limits: limits)
    } catch {
      throw TopologyFileErrors(errors: [error])
    }
    let node: Node?
    do {
      node = try Yams.compose(yaml: text)
    } catch {
      throw TopologyFileErrors(errors: [
        TopologyFileError(
          line: nil, column: nil, field: "(file)", message: "not valid YAML: \(error)")
      ])
    }
    let builder = SnapshotBuilder()
    if let node {
      builder.read(Field(node: node, path: ""))
    }
    builder.assignTunnelKeys(existing: tunnelKeys)
    builder.finish()
    guard builder.reader.errors.isEmpty else {
      throw TopologyFileErrors(errors: builder.reader.errors)
    }
    guard builder.snapshot.count <= limits.maxObjects else {
      throw Self.overLimit(
        "the file describes \(builder.snapshot.count) objects, over the limit of \(limits.maxObjects) (raise it with --max-objects)"
      )
    }
    return builder.snapshot
  }
}
