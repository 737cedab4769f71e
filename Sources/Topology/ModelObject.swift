/// What every stored topology object has in common: a type name and an id.
///
/// The NSDB layer is generic over this protocol (one path per type, one node
/// per id); `snapshotKeyPath` lets generic code reach the right dictionary of
/// a `TopologySnapshot` snapshot without a switch over every type.
public protocol ModelObject: Hashable, Sendable, Codable {
  /// The NSDB type of this object.
  static var modelType: ModelType { get }
  /// Where objects of this type live in a `TopologySnapshot` snapshot.
  static var snapshotKeyPath: WritableKeyPath<TopologySnapshot, [ID: Self]> { get }
  /// The object's stable identity.
  var id: ID { get }
}
