/// A problem with the manifests: where it is (document and field) and what.
///
/// One struct with a nested code rather than an enum of cases, so every
/// error carries the same location fields and callers can switch on the code.
public struct K8sError: Error, CustomStringConvertible, Sendable, Hashable {
  public enum Code: String, Sendable, Hashable {
    /// The text is not YAML.
    case invalidYAML
    /// A required field is missing.
    case missingField
    /// A field has the wrong type or an unparseable value.
    case invalidValue
    /// Two objects of one kind share a namespace and name.
    case duplicate
    /// The objects parse but cannot be translated together (overlapping
    /// subnets, an address outside its namespace's subnet, ...).
    case untranslatable
  }

  public var code: Code
  public var message: String
  /// The 0-based index of the YAML document, when the error is in one.
  public var document: Int?
  /// The field path inside the document, e.g. `spec.ingress[0].ports[1].port`.
  public var field: String?
  /// The underlying error's description (a YAML parser error), if any.
  public var cause: String?

  public init(
    _ code: Code, _ message: String, document: Int? = nil, field: String? = nil,
    cause: String? = nil
  ) {
    self.code = code
    self.message = message
    self.document = document
    self.field = field
    self.cause = cause
  }

  public var description: String {
    var parts: [String] = []
    if let document { parts.append("document \(document)") }
    if let field, !field.isEmpty { parts.append(field) }
    var text = parts.isEmpty ? message : parts.joined(separator: ", ") + ": " + message
    if let cause { text += " (\(cause))" }
    return text
  }
}

/// Every problem found in one parse or translation: nothing is translated
/// unless the list is empty.
public struct K8sErrors: Error, CustomStringConvertible, Sendable {
  public var errors: [K8sError]

  public init(_ errors: [K8sError]) { self.errors = errors }

  public var description: String { errors.map(\.description).joined(separator: "\n") }
}
