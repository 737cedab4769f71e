import CZooKeeper

/// A znode's metadata, copied out of the C `struct Stat`.
///
/// `mzxid` orders data changes and `pzxid` orders children changes; watches use
/// them to never deliver an older state after a newer one.
public struct NodeStat: Sendable, Hashable {
  public var czxid: Int64
  public var mzxid: Int64
  public var ctime: Int64
  public var mtime: Int64
  public var version: Int32
  public var cversion: Int32
  public var aversion: Int32
  /// The session that owns this node if it is ephemeral, else 0.
  public var ephemeralOwner: Int64
  public var dataLength: Int32
  public var numChildren: Int32
  public var pzxid: Int64

  init(_ s: Stat) {
    czxid = s.czxid
    mzxid = s.mzxid
    ctime = s.ctime
    mtime = s.mtime
    version = s.version
    cversion = s.cversion
    aversion = s.aversion
    ephemeralOwner = s.ephemeralOwner
    dataLength = s.dataLength
    numChildren = s.numChildren
    pzxid = s.pzxid
  }

  public var isEphemeral: Bool { ephemeralOwner != 0 }
}

/// How a node is created.
public enum CreateMode: Sendable, Hashable {
  case persistent
  case ephemeral
  case persistentSequential
  case ephemeralSequential
  /// Deleted by the server once its last child is gone.
  case container

  var raw: Int32 {
    switch self {
    case .persistent: return midge_zk_mode_persistent()
    case .ephemeral: return midge_zk_mode_ephemeral()
    case .persistentSequential: return midge_zk_mode_persistent_sequential()
    case .ephemeralSequential: return midge_zk_mode_ephemeral_sequential()
    case .container: return midge_zk_mode_container()
    }
  }
}

/// A node's data and metadata as read at one moment.
public struct NodeData: Sendable, Hashable {
  public var data: [UInt8]
  public var stat: NodeStat
}

/// A node's children as read at one moment (names, not paths, sorted).
public struct NodeChildren: Sendable, Hashable {
  public var children: [String]
  public var stat: NodeStat
}

/// Identity of a session, enough to re-attach to it from another handle.
public struct SessionCredentials: Sendable, Hashable {
  public var sessionID: Int64
  public var password: [UInt8]
}

/// What happened to the client's session.
public enum SessionEvent: Sendable, Hashable {
  /// A new session was established (the first one, or one that replaces an expired one).
  case connected(sessionID: Int64)
  /// The connection dropped; the session may still be alive on the servers.
  case suspended(sessionID: Int64)
  /// The connection came back within the session timeout: same session, ephemerals intact.
  case reconnected(sessionID: Int64)
  /// The servers expired the session: its ephemerals and watches are gone. A new
  /// session is being made; `connected` follows.
  case expired(sessionID: Int64)
  /// The owner closed the client.
  case closed
}
