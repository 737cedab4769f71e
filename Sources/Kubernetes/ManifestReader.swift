import Addresses
import Topology
import Yams

/// A YAML node with the path that reached it inside its document.
struct ManifestField {
  let node: Node
  let path: String

  func child(_ key: String) -> ManifestField? {
    guard case .mapping(let mapping) = node else { return nil }
    for (name, value) in mapping where name.string == key {
      if value.isNull { return nil }
      return ManifestField(node: value, path: path.isEmpty ? key : "\(path).\(key)")
    }
    return nil
  }

  var line: Int? { node.mark?.line }
}

extension Node {
  /// A plain scalar YAML reads as null (`~`, `null`, nothing): an unset field.
  var isNull: Bool {
    guard case .scalar(let scalar) = self, scalar.style == .plain else { return false }
    return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
  }
}

/// Reads typed values out of one document, collecting every problem with the
/// document index, field path and line, as `kubectl` would name them.
///
/// Fields Midge does not use are not looked at at all: manifests written for
/// a real cluster carry many (`resources`, `image`, `status.conditions`).
final class ManifestReader {
  var errors: [K8sError] = []
  var document = 0

  func fail(_ field: ManifestField?, _ path: String, _ message: String, code: K8sError.Code) {
    var text = message
    if let line = field?.line { text += " (line \(line))" }
    errors.append(K8sError(code, text, document: document, field: path))
  }

  func invalid(_ field: ManifestField, _ message: String) {
    fail(field, field.path, message, code: .invalidValue)
  }

  func string(_ field: ManifestField?) -> String? {
    guard let field else { return nil }
    guard case .scalar(let scalar) = field.node else {
      invalid(field, "expected a single value")
      return nil
    }
    return scalar.string
  }

  func required(_ parent: ManifestField, _ key: String) -> String? {
    guard let field = parent.child(key) else {
      let path = parent.path.isEmpty ? key : "\(parent.path).\(key)"
      fail(parent, path, "required field is missing", code: .missingField)
      return nil
    }
    guard let value = string(field), !value.isEmpty else {
      invalid(field, "must not be empty")
      return nil
    }
    return value
  }

  func list(_ field: ManifestField?) -> [ManifestField] {
    guard let field else { return [] }
    guard case .sequence(let sequence) = field.node else {
      invalid(field, "expected a list")
      return []
    }
    return sequence.enumerated().map { ManifestField(node: $1, path: "\(field.path)[\($0)]") }
  }

  func isMapping(_ field: ManifestField) -> Bool {
    guard case .mapping = field.node else {
      invalid(field, "expected a mapping")
      return false
    }
    return true
  }

  func bool(_ field: ManifestField?) -> Bool? {
    guard let text = string(field) else { return nil }
    switch text.lowercased() {
    case "true": return true
    case "false": return false
    default:
      invalid(field!, "'\(text)' is not true or false")
      return nil
    }
  }

  func port(_ field: ManifestField?) -> UInt16? {
    guard let field, let text = string(field) else { return nil }
    guard let value = UInt16(text), value > 0 else {
      invalid(field, "'\(text)' is not a port number in 1...65535")
      return nil
    }
    return value
  }

  /// An int-or-string port: digits are a number, anything else a name.
  func portRef(_ field: ManifestField?) -> K8sPortRef? {
    guard let field, let text = string(field) else { return nil }
    if text.allSatisfy(\.isNumber) {
      return port(field).map(K8sPortRef.number)
    }
    return .name(text)
  }

  func proto(_ field: ManifestField?) -> K8sProtocol {
    guard let field, let text = string(field) else { return .tcp }
    guard let proto = K8sProtocol(rawValue: text.uppercased()) else {
      invalid(field, "'\(text)' is not TCP, UDP or SCTP")
      return .tcp
    }
    return proto
  }

  func address(_ field: ManifestField?) -> IPv4Address? {
    guard let field, let text = string(field) else { return nil }
    do {
      return try IPv4Address(parsing: text)
    } catch {
      invalid(field, "'\(text)' is not an IPv4 address")
      return nil
    }
  }

  func prefix(_ field: ManifestField?) -> IPv4Prefix? {
    guard let field, let text = string(field) else { return nil }
    do {
      return try IPv4Prefix(parsing: text)
    } catch {
      invalid(field, "'\(text)' is not an IPv4 CIDR like 10.0.0.0/16")
      return nil
    }
  }

  func stringMap(_ field: ManifestField?) -> [String: String] {
    guard let field else { return [:] }
    guard case .mapping(let mapping) = field.node else {
      invalid(field, "expected a mapping of strings")
      return [:]
    }
    var result: [String: String] = [:]
    for (key, value) in mapping {
      guard let name = key.string, case .scalar(let scalar) = value else {
        invalid(field, "expected a mapping of strings")
        continue
      }
      result[name] = scalar.string
    }
    return result
  }

  func selector(_ field: ManifestField?) -> LabelSelector? {
    guard let field else { return nil }
    guard isMapping(field) else { return nil }
    var selector = LabelSelector(matchLabels: stringMap(field.child("matchLabels")))
    for item in list(field.child("matchExpressions")) {
      guard let key = required(item, "key"), let opText = required(item, "operator") else {
        continue
      }
      guard let op = LabelSelector.Requirement.Operator(rawValue: opText) else {
        invalid(item.child("operator")!, "'\(opText)' is not In, NotIn, Exists or DoesNotExist")
        continue
      }
      let values = list(item.child("values")).compactMap { string($0) }
      let needsValues = op == .in || op == .notIn
      if needsValues && values.isEmpty {
        invalid(item, "operator \(opText) needs values")
      } else if !needsValues && !values.isEmpty {
        invalid(item, "operator \(opText) takes no values")
      }
      selector.matchExpressions.append(.init(key: key, op: op, values: values))
    }
    return selector
  }
}
