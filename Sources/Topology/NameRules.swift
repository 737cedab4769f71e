/// What a name may be, for every producer of topology (the topology file, the
/// Kubernetes translation) to check the same way (docs/topology-file.md, "Validation").
public enum NameRules {
  /// The longest object name, in UTF-8 bytes.
  public static let maxNameBytes = 255
  /// The longest Linux interface name, in bytes (IFNAMSIZ - 1).
  public static let maxInterfaceBytes = 15

  /// Why `name` is not a valid object name, or nil: 1...255 bytes of UTF-8, no control
  /// or line-separator characters, no leading or trailing whitespace. Anything else is
  /// fine (`/` too: the Kubernetes translation names pods `namespace/pod`).
  public static func problem(name: String) -> String? {
    if name.isEmpty { return "must not be empty" }
    if name.utf8.count > maxNameBytes {
      return "is \(name.utf8.count) bytes long; a name has at most \(maxNameBytes)"
    }
    if let bad = name.unicodeScalars.first(where: isControl) {
      return "contains the control character \(codePoint(bad)); a name is printable text"
    }
    if name.first?.isWhitespace == true || name.last?.isWhitespace == true {
      return "begins or ends with whitespace"
    }
    return nil
  }

  /// Why `name` is not a name Linux accepts for a network interface, or nil: 1...15
  /// bytes, not `.` or `..`, no `/`, `:`, whitespace or control characters.
  public static func problem(interfaceName name: String) -> String? {
    if name.isEmpty { return "must not be empty" }
    if name.utf8.count > maxInterfaceBytes {
      return
        "is \(name.utf8.count) bytes long; Linux allows at most \(maxInterfaceBytes) in an interface name"
    }
    if name == "." || name == ".." { return "'\(name)' is not an interface name" }
    if let bad = name.unicodeScalars.first(where: {
      $0 == "/" || $0 == ":" || $0.properties.isWhitespace || isControl($0)
    }) {
      return
        "contains \(codePoint(bad)); an interface name has no '/', ':', whitespace or control characters"
    }
    return nil
  }

  static func isControl(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar.properties.generalCategory {
    case .control, .lineSeparator, .paragraphSeparator: return true
    default: return false
    }
  }

  static func codePoint(_ scalar: Unicode.Scalar) -> String {
    let hex = String(scalar.value, radix: 16, uppercase: true)
    let padded = String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    return scalar.properties.generalCategory == .control || scalar.value < 0x21
      ? "U+\(padded)" : "'\(scalar)' (U+\(padded))"
  }
}
