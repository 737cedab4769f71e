import Addresses
import Topology
import Yams

/// A YAML node with the dotted path that reached it.
struct Field {
  let node: Node
  let path: String

  var line: Int? { node.mark?.line }
  var column: Int? { node.mark?.column }
}

/// Reads typed values out of YAML nodes, collecting every problem (with its
/// line) instead of stopping at the first, so one run reports them all.
final class FileReader {
  var errors: [TopologyFileError] = []

  func fail(_ field: Field?, _ path: String, _ message: String) {
    errors.append(
      TopologyFileError(line: field?.line, column: field?.column, field: path, message: message))
  }

  /// The mapping's fields by key; unknown keys are errors (they are typos).
  func mapping(_ field: Field, allowed: Set<String>) -> [String: Field] {
    guard case .mapping(let mapping) = field.node else {
      fail(field, field.path, "expected a mapping of fields")
      return [:]
    }
    var result: [String: Field] = [:]
    for (key, value) in mapping {
      guard let name = key.string else {
        fail(Field(node: key, path: field.path), field.path, "a key must be a string")
        continue
      }
      let path = field.path.isEmpty ? name : "\(field.path).\(name)"
      guard allowed.contains(name) else {
        fail(
          Field(node: key, path: path), path,
          "unknown field '\(name)' (expected one of: \(allowed.sorted().joined(separator: ", ")))")
        continue
      }
      result[name] = Field(node: value, path: path)
    }
    return result
  }

  func list(_ field: Field?) -> [Field] {
    guard let field else { return [] }
    if case .scalar(let scalar) = field.node, scalar.string.isEmpty || scalar.string == "null" {
      return []
    }
    guard case .sequence(let sequence) = field.node else {
      fail(field, field.path, "expected a list")
      return []
    }
    return sequence.enumerated().map { Field(node: $1, path: "\(field.path)[\($0)]") }
  }

  func string(_ field: Field?) -> String? {
    guard let field else { return nil }
    guard case .scalar(let scalar) = field.node else {
      fail(field, field.path, "expected a single value")
      return nil
    }
    return scalar.string
  }

  func required(_ fields: [String: Field], _ key: String, in parent: Field) -> String? {
    guard let field = fields[key] else {
      fail(parent, parent.path.isEmpty ? key : "\(parent.path).\(key)", "required field is missing")
      return nil
    }
    guard let value = string(field), !value.isEmpty else {
      fail(field, field.path, "must not be empty")
      return nil
    }
    return value
  }

  /// A required object name, checked against ``NameRules``.
  func name(_ fields: [String: Field], in parent: Field) -> String? {
    guard let name = required(fields, "name", in: parent) else { return nil }
    if let problem = NameRules.problem(name: name) {
      fail(
        fields["name"], fields["name"]?.path ?? "name",
        "'\(name.debugDescription.dropFirst().dropLast())' \(problem)")
      return nil
    }
    return name
  }

  /// An optional interface name, checked against what Linux accepts.
  func interfaceName(_ field: Field?) -> String? {
    guard let field, let name = string(field) else { return nil }
    if let problem = NameRules.problem(interfaceName: name) {
      fail(
        field, field.path, "interface '\(name.debugDescription.dropFirst().dropLast())' \(problem)")
      return nil
    }
    return name
  }

  /// A prefix that names a block of addresses (a subnet, a route's or a rule's match),
  /// so its host bits must be clear: `10.0.0.1/24` is refused, naming `10.0.0.0/24`.
  func network(_ field: Field?) -> IPv4Prefix? {
    guard let prefix = prefix(field) else { return nil }
    guard prefix.isCanonical else {
      fail(
        field, field?.path ?? "",
        "\(prefix) has host bits set; the network is \(prefix.canonical)")
      return nil
    }
    return prefix
  }

  /// A number no larger than `maximum`.
  func int<T: FixedWidthInteger>(_ field: Field?, _ type: T.Type, in range: ClosedRange<T>) -> T? {
    guard let value = int(field, type) else { return nil }
    guard range.contains(value) else {
      fail(
        field, field?.path ?? "", "\(value) is outside \(range.lowerBound)...\(range.upperBound)")
      return nil
    }
    return value
  }

  func int<T: FixedWidthInteger>(_ field: Field?, _ type: T.Type) -> T? {
    guard let text = string(field) else { return nil }
    let value: T?
    if text.hasPrefix("0x") {
      value = T(text.dropFirst(2), radix: 16)
    } else {
      value = T(text)
    }
    guard let value else {
      fail(field, field?.path ?? "", "'\(text)' is not a number in \(T.min)...\(T.max)")
      return nil
    }
    return value
  }

  func bool(_ field: Field?) -> Bool? {
    guard let text = string(field) else { return nil }
    switch text.lowercased() {
    case "true", "yes", "on": return true
    case "false", "no", "off": return false
    default:
      fail(field, field?.path ?? "", "'\(text)' is not true or false")
      return nil
    }
  }

  func address(_ field: Field?) -> IPv4Address? {
    guard let text = string(field) else { return nil }
    guard let address = IPv4Address(text) else {
      fail(field, field?.path ?? "", "'\(text)' is not an IPv4 address")
      return nil
    }
    return address
  }

  func prefix(_ field: Field?) -> IPv4Prefix? {
    guard let text = string(field) else { return nil }
    guard let prefix = IPv4Prefix(text.contains("/") ? text : text + "/32") else {
      fail(field, field?.path ?? "", "'\(text)' is not an IPv4 prefix like 10.0.0.0/24")
      return nil
    }
    return prefix
  }

  func mac(_ field: Field?) -> MACAddress? {
    guard let text = string(field) else { return nil }
    guard let mac = MACAddress(text) else {
      fail(field, field?.path ?? "", "'\(text)' is not a MAC address like 02:00:00:00:00:01")
      return nil
    }
    return mac
  }

  /// `80` or `1000-2000`.
  func portRange(_ field: Field?) -> ClosedRange<UInt16>? {
    guard let text = string(field) else { return nil }
    let parts = text.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false).map {
      UInt16($0.trimmingCharacters(in: .whitespaces))
    }
    guard let low = parts.first ?? nil, let high = parts.count == 2 ? parts[1] : low, low <= high
    else {
      fail(field, field?.path ?? "", "'\(text)' is not a port or a range like 1000-2000")
      return nil
    }
    return low...high
  }

  /// `1.2.3.4` or `1.2.3.4-1.2.3.9`.
  func addressRange(_ field: Field?) -> (IPv4Address, IPv4Address)? {
    guard let text = string(field) else { return nil }
    let parts = text.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false).map {
      IPv4Address(String($0))
    }
    guard let low = parts.first ?? nil, let high = parts.count == 2 ? parts[1] : low, low <= high
    else {
      fail(field, field?.path ?? "", "'\(text)' is not an address or a range like 1.2.3.4-1.2.3.9")
      return nil
    }
    return (low, high)
  }
}

extension String {
  func trimmingCharacters(in set: CharacterSet) -> String {
    String(drop { set.contains($0) }.reversed().drop { set.contains($0) }.reversed())
  }
}

/// The one character set the reader needs (no Foundation).
struct CharacterSet {
  static let whitespaces = CharacterSet()
  func contains(_ character: Character) -> Bool { character.isWhitespace }
}
