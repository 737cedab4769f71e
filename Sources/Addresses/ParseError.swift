/// Why a textual id or address could not be read.
///
/// Addresses (this module) and ids (`Topology.ID`) are written by people in
/// YAML files, CLI flags and trace requests, and read back from the NSDB, so a
/// failed parse must say which kind of value was expected and show the
/// offending text; a bare `nil` would leave the operator guessing. One error
/// type serves all of them so that callers catch one thing.
public struct ParseError: Error, Hashable, Sendable, CustomStringConvertible {
  /// The kind of value that failed to parse.
  public enum Code: String, Hashable, Sendable, CaseIterable {
    case invalidID
    case invalidIPv4Address
    case invalidIPv4Prefix
    case invalidMACAddress
  }

  public var code: Code
  /// Human-readable reason, naming the offending input.
  public var message: String
  /// The text that was rejected, verbatim.
  public var input: String

  public init(code: Code, message: String, input: String) {
    self.code = code
    self.message = message
    self.input = input
  }

  public var description: String { "\(code.rawValue): \(message)" }
}
