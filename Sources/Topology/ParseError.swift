/// Why a textual id or address could not be read.
///
/// The value types of this module (`ID`, `IPv4Address`, `IPv4Prefix`,
/// `MACAddress`) are written by people in YAML files and read back from the
/// NSDB, so a failed parse must say which kind of value was expected and show
/// the offending text; a bare `nil` would leave the operator guessing.
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
