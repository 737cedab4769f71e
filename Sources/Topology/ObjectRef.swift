/// A reference to one stored object: its type and id, enough to find it in the NSDB
/// (`/models/<Type>/<id>`). What a simulation that could not finish names, so that the
/// shell knows what to load.
public struct ObjectRef: Hashable, Sendable, Comparable, CustomStringConvertible {
  public var type: ModelType
  public var id: ID

  public init(_ type: ModelType, _ id: ID) {
    self.type = type
    self.id = id
  }

  public var description: String { "\(type.rawValue)/\(id)" }

  public static func < (lhs: ObjectRef, rhs: ObjectRef) -> Bool {
    (lhs.type.rawValue, lhs.id) < (rhs.type.rawValue, rhs.id)
  }
}
