import ArgumentParser
import CommandSupport
import Foundation
import Logging
import NSDB
import Topology
import ZooKeeper

/// The options every command that talks to the NSDB takes.
struct ClusterOptions: ParsableArguments {
  @Option(
    name: .customLong("zk"),
    help: "ZooKeeper connect string (default: $MIDGE_ZK or 127.0.0.1:2181).")
  var connectString: String = Environment.zookeeper

  @Option(help: "NSDB root path.")
  var root: String = "/midge"

  @Option(help: "Seconds to wait for a ZooKeeper session.")
  var timeout: Int = 10

  @Option(
    help: ArgumentHelp(
      "A credential file (mode 0600) with the identity to act as, on a secured NSDB (default: $MIDGE_CREDENTIALS).",
      valueName: "file"))
  var credentials: String?

  /// The credential file named by the flag or the environment.
  var credentialFile: String? {
    if let credentials { return credentials }
    if let value = getenv(CredentialFile.environmentVariable), value.pointee != 0 {
      return String(cString: value)
    }
    return nil
  }

  /// Connects, runs `body` with the store, and closes the session whatever happens.
  /// `readOnly` skips creating the NSDB layout, so a read (`check`) never writes.
  func withStore<R>(
    readOnly: Bool = false, maxRequestBytes: Int = NSDBStore.defaultMaxRequestBytes,
    _ body: (NSDBStore) async throws -> R
  ) async throws
    -> R
  {
    var logger = Logger(label: "midgectl")
    logger.logLevel = .warning
    var identities: [DigestIdentity] = []
    if let file = credentialFile {
      do {
        identities = try CredentialFile.load(file)
      } catch {
        throw CommandError("\(error)", code: .invalidInput, cause: error)
      }
    }
    let client: ZooKeeperClient
    do {
      client = try await ZooKeeperClient.connect(
        to: connectString, sessionTimeout: .seconds(10), authentication: identities,
        logger: logger, timeout: .seconds(timeout))
    } catch {
      throw CommandError(
        "cannot reach ZooKeeper at \(connectString) (--zk or $MIDGE_ZK): \(error)",
        code: .unreachable, cause: error)
    }
    let store = NSDBStore(
      client: client, root: root, logger: logger, maxRequestBytes: maxRequestBytes)
    do {
      try await secure(store, identities: identities)
      if !readOnly { try await store.setUp() }
      let result = try await body(store)
      await client.close()
      return result
    } catch {
      await client.close()
      throw error
    }
  }
}

extension ClusterOptions {
  /// Makes what this command creates get the secured tree's ACLs, as its identity; on a
  /// secured tree without credentials, says how to give them.
  func secure(_ store: NSDBStore, identities: [DigestIdentity]) async throws {
    guard let creator = identities.first(where: { $0.user == "admin" }) ?? identities.first
    else {
      do {
        _ = try await store.client.get(store.paths.version)
      } catch let error as ZooKeeperError where error.code == .noAuth {
        throw CommandError(
          "the NSDB under \(root) is secured and midgectl has no credentials: give the admin identity's file with --credentials or $\(CredentialFile.environmentVariable)",
          code: .notPermitted, cause: error)
      } catch {}
      return
    }
    do {
      try await store.useAccess(creator: creator)
    } catch let error as NSDBError where error.code == .notAuthorised {
      throw CommandError(
        "\(error); the credential file \(credentialFile ?? "?") does not hold an identity of this NSDB",
        code: .notPermitted, cause: error)
    }
  }
}

extension NSDBStore {
  /// Everything stored that decodes, as one snapshot, and every object whose bytes do not.
  func scan() async throws -> (snapshot: TopologySnapshot, corrupt: [CorruptObject]) {
    var snapshot = TopologySnapshot()
    var corrupt: [CorruptObject] = []
    func read<T: WireCodable>(
      _ type: T.Type, into keyPath: WritableKeyPath<TopologySnapshot, [ID: T]>
    )
      async throws
    {
      let (objects, broken) = try await readAll(type)
      for object in objects { snapshot[keyPath: keyPath][object.id] = object }
      corrupt += broken
    }
    try await read(Host.self, into: \.hosts)
    try await read(TunnelZone.self, into: \.tunnelZones)
    try await read(Bridge.self, into: \.bridges)
    try await read(Router.self, into: \.routers)
    try await read(Port.self, into: \.ports)
    try await read(Route.self, into: \.routes)
    try await read(Chain.self, into: \.chains)
    try await read(Rule.self, into: \.rules)
    try await read(PortGroup.self, into: \.portGroups)
    try await read(IPAddrGroup.self, into: \.ipAddrGroups)
    try await read(Dhcp.self, into: \.dhcps)
    return (snapshot, corrupt)
  }

  /// Everything stored that decodes, as one snapshot. Objects whose bytes do not decode
  /// are left out, and each is named on stderr: a listing never hides one.
  func snapshot() async throws -> TopologySnapshot {
    let (snapshot, corrupt) = try await scan()
    warnCorrupt(corrupt)
    return snapshot
  }
}

/// Names each corrupt object on stderr, with how to look at and repair it.
func warnCorrupt(_ corrupt: [CorruptObject], leftOut: String = "left out") {
  for object in corrupt {
    let line =
      "warning: \(object) and is \(leftOut); see `midgectl raw get \(object.type.rawValue) \(object.id)`, repair with `midgectl raw delete|put` or by applying a file that names it\n"
    FileHandle.standardError.write(Data(line.utf8))
  }
}
