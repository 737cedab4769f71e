/// One problem found by `TopologySnapshot.validate()`.
///
/// A struct rather than an enum so every problem carries the same
/// structured location (object type, id, field) for tooling and a sentence
/// for people; `code` is what programs branch on.
public struct TopologyError: Error, Hashable, Sendable, CustomStringConvertible {
  public enum Code: String, Hashable, Sendable, CaseIterable {
    /// A field names an object that is not in the snapshot.
    case danglingReference
    /// A field names an object that exists but does not point back, so the
    /// two sides of an NSDB binding disagree (`Port.device` names a bridge
    /// whose `portIds` lacks the port, a peer whose `peerId` is another port…).
    case missingBackReference
    /// An object is stored under a key other than its own id.
    case idMismatch
    /// Two ports share a non-zero tunnel key.
    case duplicateTunnelKey
    /// A field's value is inconsistent with the object's other fields
    /// (a router port without an address, a route to `.port` with no port…).
    case invalidField
  }

  public var code: Code
  /// The type of the object the problem was found on.
  public var objectType: ModelType
  /// The id of that object.
  public var objectId: ID
  /// The field at fault, as spelled in Swift (`condition.inPortIds` for nested ones).
  public var field: String
  /// A full sentence naming the object, the field and what is wrong.
  public var message: String

  public init(code: Code, objectType: ModelType, objectId: ID, field: String, message: String) {
    self.code = code
    self.objectType = objectType
    self.objectId = objectId
    self.field = field
    self.message = message
  }

  public var description: String { "\(code.rawValue): \(message)" }
}
