// libyaml, the parser under Yams: the budget below reads its event stream before Yams
// composes anything. Yams has no alias or size limit of its own (6.2.2), and composing
// is where an alias bomb would cost: hashing a mapping key that is an alias walks its
// whole expansion, and so does every reader of the composed tree.
import CYaml

/// The bounds on a topology file, checked before anything is built from it: a file of
/// a few kilobytes must not make `apply` use gigabytes or minutes (YAML aliases can
/// repeat a node exponentially often).
public struct TopologyFileLimits: Sendable, Hashable {
  /// The file's size in bytes (default 16 MiB).
  public var maxBytes: Int
  /// YAML nodes (scalars, lists and mappings) counting every alias as the nodes it
  /// repeats (default 1,000,000).
  public var maxNodes: Int
  /// Objects the file describes: every host, zone, bridge, router, port, route, chain,
  /// rule, group and DHCP subnet (default 100,000).
  public var maxObjects: Int
  /// Lists and mappings nested in each other (default 64; a topology file needs about 8).
  public var maxDepth: Int

  public init(
    maxBytes: Int = 16 << 20, maxNodes: Int = 1_000_000, maxObjects: Int = 100_000,
    maxDepth: Int = 64
  ) {
    self.maxBytes = maxBytes
    self.maxNodes = maxNodes
    self.maxObjects = maxObjects
    self.maxDepth = maxDepth
  }

  public static let `default` = TopologyFileLimits()
}

/// Counts what composing a YAML text would build, from libyaml's events, and stops at
/// the first limit it passes. Memory is one entry per anchor and one per open
/// collection; time is linear in the text.
enum YAMLBudget {
  static func check(_ text: String, limits: TopologyFileLimits) throws(TopologyFileError) {
    var text = text
    var failure: TopologyFileError?
    text.withUTF8 { bytes in
      failure = scan(bytes, limits: limits)
    }
    if let failure { throw failure }
  }

  private struct Frame {
    var anchor: String?
    /// `expanded` when the collection opened.
    var start: Int
  }

  private static func scan(_ bytes: UnsafeBufferPointer<UInt8>, limits: TopologyFileLimits)
    -> TopologyFileError?
  {
    var parser = yaml_parser_t()
    guard yaml_parser_initialize(&parser) == 1 else {
      return TopologyFileError(
        line: nil, column: nil, field: "(file)", message: "cannot start the YAML parser")
    }
    defer { yaml_parser_delete(&parser) }
    yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
    yaml_parser_set_input_string(&parser, bytes.baseAddress, bytes.count)

    var sizes: [String: Int] = [:]
    var stack: [Frame] = []
    var expanded = 0
    var event = yaml_event_t()
    while true {
      // Syntax errors are left to Yams, which reports them with their context.
      guard yaml_parser_parse(&parser, &event) == 1 else { return nil }
      defer { yaml_event_delete(&event) }
      let line = Int(event.start_mark.line) + 1
      let column = Int(event.start_mark.column) + 1
      func tooMany(_ adding: Int) -> TopologyFileError? {
        guard adding > limits.maxNodes - expanded else {
          expanded += adding
          return nil
        }
        return TopologyFileError(
          line: line, column: column, field: "(file)",
          message:
            "the file expands to more than \(limits.maxNodes) YAML nodes (each alias counts as the nodes it repeats); that is the limit (raise it with --max-yaml-nodes)",
          code: .limit)
      }
      switch event.type {
      case YAML_STREAM_END_EVENT:
        return nil
      case YAML_SCALAR_EVENT:
        if let error = tooMany(1) { return error }
        if let anchor = string(event.data.scalar.anchor) { sizes[anchor] = 1 }
      case YAML_ALIAS_EVENT:
        let size = string(event.data.alias.anchor).flatMap { sizes[$0] } ?? 1
        if let error = tooMany(size) { return error }
      case YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
        if let error = tooMany(1) { return error }
        guard stack.count < limits.maxDepth else {
          return TopologyFileError(
            line: line, column: column, field: "(file)",
            message:
              "lists and mappings are nested more than \(limits.maxDepth) deep; that is the limit",
            code: .limit)
        }
        let anchor =
          event.type == YAML_SEQUENCE_START_EVENT
          ? string(event.data.sequence_start.anchor) : string(event.data.mapping_start.anchor)
        stack.append(Frame(anchor: anchor, start: expanded - 1))
      case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
        if let frame = stack.popLast(), let anchor = frame.anchor {
          sizes[anchor] = expanded - frame.start
        }
      default:
        continue
      }
    }
  }

  private static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
    pointer.map { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
  }
}
