import CZooKeeper
import Crypto
import Foundation

/// One entry of a node's access control list: who (`scheme`, `id`) may do what.
///
/// ZooKeeper checks ACLs per node and never inherits them: a node's list is fixed when it
/// is created (or replaced with `setACL`), and reading a node's children or data needs
/// READ on that node, creating or deleting a child needs CREATE or DELETE on its parent.
public struct ZooKeeperACL: Sendable, Hashable, CustomStringConvertible {
  /// What an entry allows.
  public struct Permissions: OptionSet, Sendable, Hashable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let read = Permissions(rawValue: 1)
    public static let write = Permissions(rawValue: 2)
    public static let create = Permissions(rawValue: 4)
    public static let delete = Permissions(rawValue: 8)
    public static let admin = Permissions(rawValue: 16)
    public static let all: Permissions = [.read, .write, .create, .delete, .admin]
  }

  public var permissions: Permissions
  public var scheme: String
  public var id: String

  public init(_ permissions: Permissions, scheme: String, id: String) {
    self.permissions = permissions
    self.scheme = scheme
    self.id = id
  }

  /// An entry for a digest identity.
  public init(_ permissions: Permissions, _ identity: DigestIdentity) {
    self.init(permissions, scheme: "digest", id: identity.id)
  }

  /// Everyone may do everything: what nodes get when no policy is set.
  public static let openUnsafe = [ZooKeeperACL(.all, scheme: "world", id: "anyone")]

  /// Whether the entry lets anyone in (the `world` scheme).
  public var isWorld: Bool { scheme == "world" }

  public var description: String {
    var letters = ""
    for (flag, letter) in [
      (Permissions.create, "c"), (.delete, "d"), (.read, "r"), (.write, "w"), (.admin, "a"),
    ] where permissions.contains(flag) {
      letters += letter
    }
    let who = scheme == "digest" ? String(id.prefix { $0 != ":" }) : "\(scheme):\(id)"
    return "\(who)=\(letters)"
  }

  /// A C vector of `acl`, to free with `midge_zk_acl_free`.
  static func vector(_ acl: [ZooKeeperACL]) -> UnsafeMutablePointer<ACL_vector>? {
    guard let vector = midge_zk_acl_alloc(Int32(acl.count)) else { return nil }
    for (index, entry) in acl.enumerated() {
      midge_zk_acl_set(vector, Int32(index), entry.permissions.rawValue, entry.scheme, entry.id)
    }
    return vector
  }

  /// The entries of a C vector.
  static func entries(_ vector: UnsafePointer<ACL_vector>?) -> [ZooKeeperACL] {
    guard let vector else { return [] }
    var result: [ZooKeeperACL] = []
    for index in 0..<midge_zk_acl_count(vector) {
      guard let scheme = midge_zk_acl_scheme(vector, index), let id = midge_zk_acl_id(vector, index)
      else { continue }
      result.append(
        ZooKeeperACL(
          Permissions(rawValue: midge_zk_acl_perms(vector, index)), scheme: String(cString: scheme),
          id: String(cString: id)))
    }
    return result
  }
}

/// A user and secret of ZooKeeper's `digest` scheme.
///
/// The client sends `user:secret` when it authenticates (`zoo_add_auth`); ACLs name the
/// identity as `user:base64(sha1(user:secret))`, so the secret itself is stored nowhere in
/// the tree. ZooKeeper never refuses a digest: a wrong secret simply makes a different
/// identity, which no ACL names, so its requests fail with "not authorised".
public struct DigestIdentity: Sendable, Hashable, CustomStringConvertible {
  public var user: String
  public var secret: String

  /// `user` may not contain ':' (it separates user from secret); neither may be empty.
  public init(user: String, secret: String) throws {
    guard !user.isEmpty, !user.contains(":"), !secret.isEmpty else {
      throw ZooKeeperError(
        .invalidArgument,
        "a digest identity needs a user without ':' and a non-empty secret (user '\(user)')")
    }
    self.user = user
    self.secret = secret
  }

  /// How ACLs name this identity.
  public var id: String { Self.id(user: user, secret: secret) }

  /// `user:base64(sha1(user:secret))`.
  public static func id(user: String, secret: String) -> String {
    let digest = Insecure.SHA1.hash(data: Array("\(user):\(secret)".utf8))
    return user + ":" + Data(digest).base64EncodedString()
  }

  /// The user alone: secrets never go into logs or errors.
  public var description: String { user }
}
