import Foundation
import ZooKeeper

// MARK: - Design: who may write what
//
// A secured NSDB has three kinds of identity, all ZooKeeper digest identities:
//
// * the administrator (`admin`): writes the models (what `midgectl apply` writes), the
//   identities, and every ACL;
// * the agents (`agents`), one identity every agent shares: reads everything, and may
//   create entries in the shared places where any host may need to write — a bridge's
//   MAC table, a router's ARP table, NAT port-block leases, a gateway port's election;
// * one identity per host (`host-<name>`), known only to that host's agent: its own host
//   state (`state/Host/<id>`: alive, lease, interfaces) and the state of the ports bound
//   to it or that it may serve (`state/Port/<id>`: active, routes).
//
// The anonymous world gets nothing. ZooKeeper ACLs hold per node and are fixed when a node
// is created, so every client sets the ACL of what it creates from its path (`acl`), and
// the administrator creates the nodes whose ACL names a host (`state/Host/<id>`,
// `state/Port/<id>`) before that host needs them. An entry a host creates in a shared
// place names that host alone as writer, so no other host can change it; but deleting a
// node needs DELETE on its parent, which every agent has there, so a compromised host can
// delete (never rewrite) another host's learned entries and leases. `docs/security.md`
// gives the whole threat model.
//
// The public half of each identity (`user:base64(sha1(user:secret))`) is kept in the tree
// at `<root>/v1/identities`, readable by agents: that is how an agent names the
// administrator and the other agents in the ACLs of what it creates.

/// The identities of a secured NSDB, by their digest ids (no secrets).
public struct NSDBIdentities: Sendable, Hashable, Codable {
  /// The administrator's id.
  public var admin: String
  /// The id every agent shares.
  public var agents: String
  /// Each host's own id, by host id.
  public var hosts: [String: String]

  public init(admin: String, agents: String, hosts: [String: String] = [:]) {
    self.admin = admin
    self.agents = agents
    self.hosts = hosts
  }

  /// The user name of a host's identity.
  public static func hostUser(_ hostName: String) -> String { "host-" + hostName }

  public func encoded() throws -> [UInt8] {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
    return Array(try encoder.encode(self))
  }

  public static func decode(_ bytes: [UInt8], path: String) throws -> NSDBIdentities {
    do {
      return try JSONDecoder().decode(NSDBIdentities.self, from: Data(bytes))
    } catch {
      throw NSDBError(.corrupt, "\(path) does not hold the NSDB's identities", cause: error)
    }
  }
}

/// The ACL policy of a secured NSDB (see the design notes above).
public struct NSDBAccess: Sendable, Hashable {
  public let identities: NSDBIdentities
  public let paths: NSDBPaths
  /// The id of whoever creates nodes with this policy (the administrator or a host).
  public let creator: String

  public init(identities: NSDBIdentities, paths: NSDBPaths, creator: String) {
    self.identities = identities
    self.paths = paths
    self.creator = creator
  }

  var admin: ZooKeeperACL { ZooKeeperACL(.all, scheme: "digest", id: identities.admin) }
  func agents(_ permissions: ZooKeeperACL.Permissions) -> ZooKeeperACL {
    ZooKeeperACL(permissions, scheme: "digest", id: identities.agents)
  }

  /// Where a path lies in the layout, as far as access goes.
  public enum Place: Sendable, Hashable {
    /// Administrator writes, agents read: the layout, the models, the identities.
    case adminOnly
    /// A host's own state node (`state/Host/<id>`): that host creates under it.
    case hostState(hostID: String)
    /// A port's state node (`state/Port/<id>`): the hosts that may serve it create under it.
    case portState(portID: String)
    /// A host's or a port's state entry (alive, lease, active, routes).
    case stateEntry(fenceable: Bool)
    /// A shared place agents create in (tables, NAT leases, elections, their parents).
    case shared
    /// An entry in a shared place.
    case sharedEntry
  }

  /// Classifies `path`.
  public func place(_ path: String) -> Place {
    let version = paths.version + "/"
    guard path.hasPrefix(version) else { return .adminOnly }
    return Self.place(relative: path.dropFirst(version.count))
  }

  /// Who may write `path` (under any root), in words: for the error of a refused write.
  public static func writer(of path: String) -> String {
    guard let range = path.range(of: "/v1/") else { return "the admin identity" }
    return writer(of: place(relative: path[range.upperBound...]))
  }

  /// Classifies a path relative to the version node.
  static func place(relative: Substring) -> Place {
    let parts = relative.split(separator: "/").map(String.init)
    guard let top = parts.first else { return .adminOnly }
    switch top {
    case "election":
      switch parts.count {
      case 1, 2: return .shared
      default: return .sharedEntry
      }
    case "state":
      guard parts.count >= 2 else { return .adminOnly }
      switch parts[1] {
      case "Host", "Port":
        switch parts.count {
        case 2: return .adminOnly
        case 3:
          return parts[1] == "Host" ? .hostState(hostID: parts[2]) : .portState(portID: parts[2])
        default: return .stateEntry(fenceable: parts[1] == "Host" && parts[3] == "lease")
        }
      case "nat":
        return parts.count <= 3 ? .shared : .sharedEntry
      case "Bridge", "Router":
        // state/Bridge/<b>/mac_table/<vlan>/<entry>, state/Bridge/<b>/ip4_mac_table/<entry>,
        // state/Router/<r>/arp_table/<entry>.
        if parts.count >= 4, parts[3] == "mac_table" {
          return parts.count <= 5 ? .shared : .sharedEntry
        }
        return parts.count <= 4 ? .shared : .sharedEntry
      default:
        return .adminOnly
      }
    default:
      return .adminOnly
    }
  }

  /// The ACL of a node created at `path` by this policy's creator.
  public func acl(_ path: String) -> [ZooKeeperACL] {
    let creator = ZooKeeperACL(.all, scheme: "digest", id: creator)
    // A host that makes its own state node (on a tree not secured yet, where the
    // administrator has not made it) keeps the right to write under it.
    let maker = self.creator == identities.admin ? [] : [creator]
    switch place(path) {
    case .adminOnly:
      return [admin, agents(.read)]
    case .portState:
      return unique([admin] + maker + [agents(.read)])
    case .hostState(let host):
      guard let id = identities.hosts[host] else {
        return unique([admin] + maker + [agents(.read)])
      }
      return [admin, ZooKeeperACL(.all, scheme: "digest", id: id), agents(.read)]
    case .stateEntry(let fenceable):
      return unique([admin, creator, agents(fenceable ? [.read, .write] : .read)])
    case .shared:
      return [admin, agents([.read, .create, .delete])]
    case .sharedEntry:
      return unique([admin, creator, agents(.read)])
    }
  }

  /// Whether `acl` is right for `path`: the policy's, or for an entry, the policy's as
  /// any known host (or the administrator) would have made it.
  public func isAcceptable(_ acl: [ZooKeeperACL], at path: String) -> Bool {
    let have = Set(acl)
    if have == Set(self.acl(path)) { return true }
    switch place(path) {
    case .stateEntry, .sharedEntry:
      let makers = [identities.admin] + Array(identities.hosts.values)
      return makers.contains { maker in
        have == Set(NSDBAccess(identities: identities, paths: paths, creator: maker).acl(path))
      }
    default:
      return false
    }
  }

  /// The ACL of a port's state node: the hosts that may serve the port create under it.
  public func portStateACL(hosts: [String]) -> [ZooKeeperACL] {
    var acl = [admin]
    for host in hosts.sorted() {
      if let id = identities.hosts[host] {
        acl.append(ZooKeeperACL(.all, scheme: "digest", id: id))
      }
    }
    acl.append(agents(.read))
    return unique(acl)
  }

  /// Who may write `path`, in words, for the errors of refused writes.
  public func writer(of path: String) -> String { Self.writer(of: place(path)) }

  static func writer(of place: Place) -> String {
    switch place {
    case .adminOnly: return "the admin identity"
    case .hostState(let host): return "the identity of host \(host)"
    case .portState: return "the identity of a host the port is bound to"
    case .stateEntry: return "the identity of the host that owns it"
    case .shared: return "an agent identity"
    case .sharedEntry: return "the identity of the host that made it"
    }
  }

  /// The ACL with one entry per identity (the administrator creating an entry is both).
  private func unique(_ acl: [ZooKeeperACL]) -> [ZooKeeperACL] {
    var seen = Set<String>()
    var result: [ZooKeeperACL] = []
    for entry in acl where seen.insert(entry.id).inserted { result.append(entry) }
    return result
  }
}
