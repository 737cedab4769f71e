import ArgumentParser
import CommandSupport
import Foundation
import NSDB
import Topology
import TopologyFile

/// `midgectl raw`: an object's node as stored, for the objects whose bytes cannot be
/// decoded (which every other command can only name): show the bytes, delete the object,
/// or overwrite it.
struct Raw: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Show, delete or overwrite a stored object as bytes (repairs corrupt objects).",
    subcommands: [RawGet.self, RawDelete.self, RawPut.self])
}

/// Which object: `TYPE ID`, `TYPE NAME` (the id a topology file gives that name) or the
/// object's ZooKeeper path.
struct RawTarget: ParsableArguments {
  @Argument(
    help:
      "TYPE ID, TYPE NAME (the id a topology file derives from the name), or the object's path, e.g. /midge/v1/models/Port/ID"
  )
  var words: [String]

  func resolve(_ paths: NSDBPaths) throws -> (type: ModelType, id: ID, how: String) {
    if words.count == 1, let path = words.first, path.hasPrefix("/") {
      let prefix = paths.models + "/"
      let parts = path.hasPrefix(prefix) ? path.dropFirst(prefix.count).split(separator: "/") : []
      guard parts.count == 2, let type = ModelType(rawValue: String(parts[0])),
        let id = ID(String(parts[1]))
      else {
        throw CommandError("'\(path)' is not the path of an object (\(prefix)TYPE/ID)")
      }
      return (type, id, "")
    }
    guard words.count == 2 else {
      throw CommandError("name the object as TYPE ID, TYPE NAME or its path")
    }
    guard let type = TypeArgument(argument: words[0])?.type else {
      throw CommandError("'\(words[0])' is not a type (bridge, router, port, chain, ...)")
    }
    if let id = ID(words[1]) { return (type, id, "") }
    return (
      type, TopologyFile.id(type, words[1]), " (the id of \(type.rawValue) '\(words[1])')"
    )
  }
}

struct RawGet: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "get",
    abstract: "An object's stored bytes as a hex dump, and whether (or why not) they decode.")

  @OptionGroup var cluster: ClusterOptions
  @OptionGroup var target: RawTarget
  @Flag(help: "Write only the bytes, unchanged (to keep a copy, or for `raw put --from`).")
  var binary = false

  func run() async throws {
    try await cluster.withStore(readOnly: true) { store in
      let (type, id, how) = try target.resolve(store.paths)
      let node = try await read(store, type, id, how)
      if binary {
        FileHandle.standardOutput.write(Data(node.data))
        return
      }
      print("\(type.rawValue) \(id)\(how)")
      print("path:    \(store.paths.object(type, id))")
      print("size:    \(node.data.count) bytes, version \(node.version)")
      if let problem = node.problem {
        print("decodes: NO: \(problem.message)\(problem.cause.map { ": \($0)" } ?? "")")
      } else {
        print("decodes: yes")
      }
      print(hexDump(node.data), terminator: "")
    }
  }
}

struct RawDelete: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "delete",
    abstract:
      "Delete an object, also one whose bytes cannot be decoded, applying the delete policies of its bindings."
  )

  @OptionGroup var cluster: ClusterOptions
  @OptionGroup var target: RawTarget

  func run() async throws {
    try await cluster.withStore(readOnly: true) { store in
      let (type, id, how) = try target.resolve(store.paths)
      let node = try await read(store, type, id, how)
      let done: [String]
      do {
        done = try await store.rawDelete(type, id)
      } catch {
        throw ApplyError.explain(error, file: nil, names: TopologySnapshot())
      }
      print("deleted \(type.rawValue) \(id)\(how)\(node.problem == nil ? "" : " (corrupt)")")
      for line in done { print("  \(line)") }
    }
  }
}

struct RawPut: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "put",
    abstract:
      "Overwrite an object (also a corrupt one) with bytes that decode as that type and id, through its bindings."
  )

  @OptionGroup var cluster: ClusterOptions
  @OptionGroup var target: RawTarget
  @Option(help: "The new bytes, as `raw get --binary` writes them.") var from: String

  func run() async throws {
    let bytes = [UInt8](try readBounded(from, limit: NSDBStore.defaultMaxRequestBytes))
    try await cluster.withStore(readOnly: true) { store in
      let (type, id, how) = try target.resolve(store.paths)
      let node = try await read(store, type, id, how)
      do {
        try await store.rawOverwrite(type, id, bytes: bytes)
      } catch let error as NSDBError where error.code == .invalidArgument {
        throw CommandError("\(from): \(error.message)")
      } catch {
        throw ApplyError.explain(error, file: nil, names: TopologySnapshot())
      }
      print(
        "overwrote \(type.rawValue) \(id)\(how)\(node.problem == nil ? "" : " (was corrupt)") with \(bytes.count) bytes"
      )
    }
  }
}

private func read(_ store: NSDBStore, _ type: ModelType, _ id: ID, _ how: String) async throws
  -> (data: [UInt8], version: Int32, problem: NSDBError?)
{
  do {
    return try await store.rawRead(type, id)
  } catch let error as NSDBError where error.code == .notFound {
    throw CommandError("no \(type.rawValue) \(id)\(how) is stored")
  }
}

/// `xxd`-style lines: offset, sixteen bytes in hex, and the printable ones.
func hexDump(_ bytes: [UInt8]) -> String {
  var text = ""
  for start in stride(from: 0, to: bytes.count, by: 16) {
    let line = bytes[start..<min(start + 16, bytes.count)]
    var hex = line.map { byte in
      let digits = String(byte, radix: 16)
      return digits.count == 1 ? "0" + digits : digits
    }.joined(separator: " ")
    hex += String(repeating: " ", count: 16 * 3 - 1 - hex.count)
    let printable = String(
      line.map { (0x20..<0x7F).contains($0) ? Character(UnicodeScalar($0)) : "." })
    let offset = String(start, radix: 16)
    text += String(repeating: "0", count: max(0, 8 - offset.count)) + offset
    text += "  \(hex)  |\(printable)|\n"
  }
  return text
}
