import Topology
import ZooKeeper

/// Securing the NSDB (NSDBAccess): reading and writing its identities, setting the ACL of
/// everything a client creates, and bringing an existing tree's ACLs in line.
extension NSDBStore {
  /// The NSDB's identities, or nil when it has none (an open tree).
  public func identities() async throws -> NSDBIdentities? {
    do {
      let node = try await client.get(paths.identities)
      return try NSDBIdentities.decode(node.data, path: paths.identities)
    } catch let error as ZooKeeperError where error.code == .noNode {
      return nil
    } catch let error as ZooKeeperError where error.code == .noAuth {
      throw NSDBError(
        .notAuthorised,
        "not authorised to read \(paths.identities): this needs an agent or the admin identity (\(identityNames))",
        cause: error)
    } catch let error as NSDBError {
      throw error
    } catch {
      throw NSDBError.zookeeper(error, "reading \(paths.identities)")
    }
  }

  /// Every node this store's client creates from now on gets the secured tree's ACL, as
  /// created by `creator`. Returns the policy; nil (and nothing set) for an open tree.
  @discardableResult
  public func useAccess(creator: DigestIdentity) async throws -> NSDBAccess? {
    guard let identities = try await identities() else { return nil }
    let access = NSDBAccess(identities: identities, paths: paths, creator: creator.id)
    client.setACLPolicy { access.acl($0) }
    accessPolicy.withLock { $0 = access }
    return access
  }

  /// Uses `access` for everything this store's client creates.
  public func useAccess(_ access: NSDBAccess) {
    client.setACLPolicy { access.acl($0) }
    accessPolicy.withLock { $0 = access }
  }

  /// The secured tree's policy this store uses (nil: open).
  public var access: NSDBAccess? { accessPolicy.withLock { $0 } }

  /// Makes the state node of every host in `hosts` and of every port in `ports` that a
  /// host may serve, with the ACL that lets exactly those hosts write under it (plus
  /// `extraHosts[port]`: a port that moves is writable by both hosts while the move
  /// commits, so the new host never sees its binding before it may activate the port).
  public func secureState(
    _ access: NSDBAccess, hosts: [ID], ports: [Port], extraHosts: [ID: [ID]] = [:]
  ) async throws {
    var wanted: [(String, [ZooKeeperACL])] = []
    for host in hosts {
      wanted.append((paths.state(.host, host), access.acl(paths.state(.host, host))))
    }
    let state = PortState(client: client, paths: paths, logger: logger)
    for port in ports {
      var hosts = port.candidates.map(\.hostId) + (extraHosts[port.id] ?? [])
      if let host = port.hostId { hosts.append(host) }
      guard !hosts.isEmpty else { continue }
      // A host that still holds the port active keeps its right until it let go: it
      // deletes its `active` node when it sees the move, and that needs the right. A
      // later apply (or `acl apply`) takes it off.
      if let holder = try? await state.activeState(port.id)?.host, !hosts.contains(holder) {
        hosts.append(holder)
      }
      wanted.append(
        (paths.state(.port, port.id), access.portStateACL(hosts: hosts.map(\.description))))
    }
    for (path, acl) in wanted {
      do {
        if try await client.exists(path) == nil {
          try await client.create(path, acl: acl)
        } else if Set(try await client.getACL(path).acl) != Set(acl) {
          try await client.setACL(path, acl)
        }
      } catch let error as ZooKeeperError where error.code == .nodeExists {
        try await client.setACL(path, acl)
      } catch {
        throw NSDBError.zookeeper(error, "securing \(path)")
      }
    }
  }

  /// The identities the client authenticates as, for errors.
  var identityNames: String {
    client.authentication.isEmpty
      ? "this client has no credentials"
      : "this client is " + client.authentication.map(\.user).joined(separator: ", ")
  }

  /// What `secure` did.
  public struct SecureReport: Sendable, Hashable {
    /// Nodes whose ACL was replaced.
    public var changed = 0
    /// Nodes whose ACL was right already.
    public var unchanged = 0
    /// Host and port state nodes created so their hosts can write under them.
    public var created = 0
  }

  /// Writes `identities` and brings every node's ACL in line with the policy `access`
  /// (the administrator's), creating the state node of every host and of every port a
  /// host serves with the ACL that lets that host write under it. Idempotent: run again
  /// after hosts or ports change. Parents are done before children, so the tree never
  /// has a node its parent's ACL would not have let its owner create.
  public func secure(_ access: NSDBAccess) async throws -> SecureReport {
    var report = SecureReport()
    try await setUp()
    let bytes = try access.identities.encoded()
    do {
      if try await client.exists(paths.identities) == nil {
        try await client.create(paths.identities, data: bytes)
      } else {
        try await client.set(paths.identities, data: bytes)
      }
    } catch {
      throw NSDBError.zookeeper(error, "writing \(paths.identities)")
    }
    // The state nodes named after hosts and ports, with their hosts' ACLs.
    var wanted: [String: [ZooKeeperACL]] = [:]
    for host in try await ids(Host.self) {
      wanted[paths.state(.host, host)] = access.acl(paths.state(.host, host))
    }
    let state = PortState(client: client, paths: paths, logger: logger)
    for port in try await getAll(Port.self) {
      var hosts = port.candidates.map { $0.hostId.description }
      if let host = port.hostId { hosts.append(host.description) }
      guard !hosts.isEmpty else { continue }
      // As in `secureState`: a host still holding the port active keeps its right.
      if let holder = try? await state.activeState(port.id)?.host,
        !hosts.contains(holder.description)
      {
        hosts.append(holder.description)
      }
      wanted[paths.state(.port, port.id)] = access.portStateACL(hosts: hosts)
    }
    for parent in [paths.state + "/Host", paths.state + "/Port"] {
      if try await client.exists(parent) == nil {
        try await client.create(parent)
        report.created += 1
      }
    }
    for (path, acl) in wanted.sorted(by: { $0.key < $1.key })
    where try await client.exists(path) == nil {
      do {
        try await client.create(path, acl: acl)
        report.created += 1
      } catch let error as ZooKeeperError where error.code == .nodeExists {
        continue
      }
    }
    // Every node, parents first.
    var queue = Array(rootPrefixes()) + [paths.version]
    var index = 0
    while index < queue.count {
      let path = queue[index]
      index += 1
      let want = wanted[path] ?? access.acl(path)
      do {
        let (have, _) = try await client.getACL(path)
        if Set(have) == Set(want) || (wanted[path] == nil && access.isAcceptable(have, at: path)) {
          report.unchanged += 1
        } else {
          try await client.setACL(path, want)
          report.changed += 1
        }
        guard path.hasPrefix(paths.version) else { continue }
        let children = try await client.children(path).children
        queue += children.map { path + "/" + $0 }
      } catch let error as ZooKeeperError where error.code == .noNode {
        continue  // gone meanwhile (an ephemeral)
      } catch {
        throw NSDBError.zookeeper(error, "securing \(path)")
      }
    }
    return report
  }

  /// The parts of the root above the version node (`/midge`).
  func rootPrefixes() -> [String] {
    var prefixes: [String] = []
    var prefix = ""
    for component in paths.root.split(separator: "/") {
      prefix += "/" + component
      prefixes.append(prefix)
    }
    return prefixes
  }

  /// One node whose ACL is not what the policy says.
  public struct ACLFinding: Sendable, Hashable {
    public var path: String
    public var have: [ZooKeeperACL]
    /// Whether anyone at all may write it (the `world` scheme with write, create or delete).
    public var open: Bool
  }

  /// The nodes under the root whose ACL lets the anonymous world in, or (with `access`)
  /// differs from the policy; at most `limit` of them, and how many nodes were read.
  public func auditACLs(_ access: NSDBAccess?, limit: Int = 1_000) async throws -> (
    findings: [ACLFinding], nodes: Int
  ) {
    var findings: [ACLFinding] = []
    var queue = rootPrefixes() + [paths.version]
    var index = 0
    while index < queue.count {
      let path = queue[index]
      index += 1
      do {
        let (have, _) = try await client.getACL(path)
        let open = have.contains {
          $0.isWorld && !$0.permissions.intersection([.write, .create, .delete, .admin]).isEmpty
        }
        let differs =
          access.map { access in
            path.hasPrefix(paths.version + "/state/Port/") || path.hasPrefix(paths.state + "/Host/")
              ? have.contains(where: \.isWorld) : !access.isAcceptable(have, at: path)
          } ?? false
        if (open || differs) && findings.count < limit {
          findings.append(ACLFinding(path: path, have: have, open: open))
        }
        guard path.hasPrefix(paths.version) else { continue }
        queue += try await client.children(path).children.map { path + "/" + $0 }
      } catch let error as ZooKeeperError where error.code == .noNode {
        continue
      } catch let error as ZooKeeperError where error.code == .noAuth {
        continue  // closed to this client, so not open to anyone either
      } catch {
        throw NSDBError.zookeeper(error, "reading the ACL of \(path)")
      }
    }
    return (findings, queue.count)
  }
}
