/// A Kubernetes label selector: `matchLabels` and `matchExpressions`, ANDed.
///
/// An empty selector (`{}`) matches everything; whether an *absent* selector
/// means "everything" or "nothing" depends on the field, so that is decided
/// by the caller (the model keeps absent selectors as `nil`).
public struct LabelSelector: Hashable, Sendable {
  /// One `matchExpressions` entry.
  public struct Requirement: Hashable, Sendable {
    public enum Operator: String, Hashable, Sendable {
      case `in` = "In"
      case notIn = "NotIn"
      case exists = "Exists"
      case doesNotExist = "DoesNotExist"
    }

    public var key: String
    public var op: Operator
    public var values: [String]

    public init(key: String, op: Operator, values: [String] = []) {
      self.key = key
      self.op = op
      self.values = values
    }

    /// Kubernetes semantics: `NotIn` also matches objects without the key.
    public func matches(_ labels: [String: String]) -> Bool {
      switch op {
      case .in: return labels[key].map(values.contains) ?? false
      case .notIn: return labels[key].map { !values.contains($0) } ?? true
      case .exists: return labels[key] != nil
      case .doesNotExist: return labels[key] == nil
      }
    }
  }

  public var matchLabels: [String: String]
  public var matchExpressions: [Requirement]

  public init(matchLabels: [String: String] = [:], matchExpressions: [Requirement] = []) {
    self.matchLabels = matchLabels
    self.matchExpressions = matchExpressions
  }

  /// The selector that matches every object.
  public static let everything = LabelSelector()

  public func matches(_ labels: [String: String]) -> Bool {
    for (key, value) in matchLabels where labels[key] != value { return false }
    return matchExpressions.allSatisfy { $0.matches(labels) }
  }
}
