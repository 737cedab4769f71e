/// One problem in a topology file, with where it is and what to fix.
public struct TopologyFileError: Error, CustomStringConvertible, Sendable, Hashable {
  public enum Code: Sendable, Hashable {
    /// The file says something that is not a valid topology.
    case invalid
    /// The file is over one of its ``TopologyFileLimits``: nothing was built from it.
    case limit
  }

  public var code: Code
  /// 1-based line and column, when the problem has a place in the file.
  public var line: Int?
  public var column: Int?
  /// The dotted path of the field, e.g. `bridges[1].ports[0].host`.
  public var field: String
  public var message: String

  public init(line: Int?, column: Int?, field: String, message: String, code: Code = .invalid) {
    self.code = code
    self.line = line
    self.column = column
    self.field = field
    self.message = message
  }

  public var description: String {
    let place = line.map { "line \($0)\(column.map { ", column \($0)" } ?? ""): " } ?? ""
    return "\(place)\(field): \(message)"
  }
}

/// Every problem found in a file: nothing is written while there is one.
public struct TopologyFileErrors: Error, CustomStringConvertible, Sendable {
  public var errors: [TopologyFileError]

  public var description: String {
    "the topology file has \(errors.count) problem\(errors.count == 1 ? "" : "s"):\n"
      + errors.map { "  \($0)" }.joined(separator: "\n")
  }
}
