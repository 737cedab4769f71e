import ArgumentParser
import CommandSupport
import Foundation
import NSDB
import Topology
import TopologyFile
import ZooKeeper

/// `midgectl acl`: the identities of a secured NSDB and the ACLs of its nodes
/// (docs/security.md).
struct Acl: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Identities and ACLs: make credentials, secure a tree in place, show what is open.",
    subcommands: [
      AclInit.self, AclAddHost.self, AclApply.self, AclShow.self, AclRotateKey.self,
    ])
}

/// The files `acl init` writes into a directory.
enum IdentityDirectory {
  static func admin(_ directory: String) -> String { directory + "/admin.credentials" }
  static func agents(_ directory: String) -> String { directory + "/agents.credentials" }
  static func host(_ directory: String, _ name: String) -> String {
    directory + "/host-\(name).credentials"
  }
  static func identities(_ directory: String) -> String { directory + "/identities.json" }

  static func loadIdentities(_ directory: String) throws -> NSDBIdentities {
    let path = identities(directory)
    guard let data = FileManager.default.contents(atPath: path) else {
      throw CommandError(
        "cannot read \(path): make it with `midgectl acl init --dir \(directory)`",
        code: .invalidInput)
    }
    return try NSDBIdentities.decode(Array(data), path: path)
  }

  /// Makes `name`'s credential file (the shared agent identity and its own) and records
  /// its public id.
  static func addHost(
    _ name: String, agents: DigestIdentity, directory: String,
    identities: inout NSDBIdentities
  ) throws {
    let host = try DigestIdentity(
      user: NSDBIdentities.hostUser(name), secret: CredentialFile.newSecret())
    try CredentialFile.write(
      [agents, host], adminID: identities.admin, to: self.host(directory, name))
    identities.hosts[TopologyFile.id(.host, name).description] = host.id
  }

  static func save(_ identities: NSDBIdentities, _ directory: String) throws {
    let path = self.identities(directory)
    guard FileManager.default.createFile(atPath: path, contents: Data(try identities.encoded()))
    else { throw CommandError("cannot write \(path)", code: .invalidInput) }
  }
}

struct AclInit: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "init",
    abstract:
      "Make new identities: admin.credentials, agents.credentials, host-<name>.credentials (each mode 0600) and identities.json (public) in a new directory. Touches no NSDB."
  )

  @Option(help: "The directory to make (it must not exist).")
  var dir: String

  @Option(name: .customLong("host"), help: "A host to make an identity for (repeatable).")
  var hosts: [String] = []

  func run() async throws {
    guard mkdir(dir, 0o700) == 0 else {
      throw CommandError(
        "cannot make \(dir): \(String(cString: strerror(errno))) (it must not exist)",
        code: .invalidInput)
    }
    let admin = try DigestIdentity(user: "admin", secret: CredentialFile.newSecret())
    let agents = try DigestIdentity(user: "agents", secret: CredentialFile.newSecret())
    try CredentialFile.write([admin], to: IdentityDirectory.admin(dir))
    try CredentialFile.write([agents], to: IdentityDirectory.agents(dir))
    var identities = NSDBIdentities(admin: admin.id, agents: agents.id)
    for name in hosts {
      try IdentityDirectory.addHost(name, agents: agents, directory: dir, identities: &identities)
    }
    try IdentityDirectory.save(identities, dir)
    print(
      "identities in \(dir): admin, agents, \(hosts.count) host(s); secure the NSDB with `midgectl acl apply --dir \(dir) --credentials \(IdentityDirectory.admin(dir))`"
    )
  }
}

struct AclAddHost: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "add-host",
    abstract:
      "Make a host's identity in an identity directory (then `acl apply` so the NSDB knows it).")

  @Option(help: "The identity directory `acl init` made.")
  var dir: String

  @Argument(help: "The host's name, as in the topology.")
  var name: String

  func run() async throws {
    var identities = try IdentityDirectory.loadIdentities(dir)
    let agents = try CredentialFile.load(IdentityDirectory.agents(dir))
    guard let shared = agents.first else { return }
    try IdentityDirectory.addHost(name, agents: shared, directory: dir, identities: &identities)
    try IdentityDirectory.save(identities, dir)
    print("made \(IdentityDirectory.host(dir, name))")
  }
}

struct AclApply: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "apply",
    abstract:
      "Secure the NSDB in place: record the identities and set every node's ACL (run with the admin identity; again after adding hosts)."
  )

  @OptionGroup var cluster: ClusterOptions

  @Option(help: "The identity directory `acl init` made.")
  var dir: String

  func run() async throws {
    let identities = try IdentityDirectory.loadIdentities(dir)
    guard let file = cluster.credentialFile,
      let admin = try CredentialFile.load(file).first(where: { $0.id == identities.admin })
    else {
      throw CommandError(
        "acl apply needs the admin identity of \(dir): --credentials \(IdentityDirectory.admin(dir))",
        code: .notPermitted)
    }
    try await cluster.withStore { store in
      let access = NSDBAccess(identities: identities, paths: store.paths, creator: admin.id)
      store.client.setACLPolicy { access.acl($0) }
      let report = try await store.secure(access)
      print(
        "secured \(store.paths.root): \(report.changed) ACLs set, \(report.unchanged) already right, \(report.created) state nodes made"
      )
    }
  }
}

struct AclShow: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "show",
    abstract:
      "List the nodes anyone may write, and (on a secured tree) those whose ACL is not what the policy says."
  )

  @OptionGroup var cluster: ClusterOptions

  @Option(help: "At most this many nodes are listed.")
  var limit: Int = 200

  func run() async throws {
    try await cluster.withStore(readOnly: true) { store in
      let access: NSDBAccess? = try await store.identities().map {
        NSDBAccess(identities: $0, paths: store.paths, creator: $0.admin)
      }
      let (findings, nodes) = try await store.auditACLs(access, limit: limit)
      for finding in findings {
        let acl = finding.have.map(\.description).joined(separator: ",")
        print("\(finding.open ? "OPEN " : "DIFFERS") \(finding.path) \(acl)")
      }
      let open = findings.filter(\.open).count
      print(
        "\(nodes) nodes; \(open) open to anyone; \(findings.count - open) not as the policy says\(access == nil ? " (no identities: the tree is not secured)" : "")"
      )
    }
  }
}

struct AclRotateKey: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "rotate-key",
    abstract:
      "Give a tunnel zone a new key for the messages agents send each other (the first makes them authenticated), without losing any: the new key is accepted everywhere before anyone signs with it."
  )

  @OptionGroup var cluster: ClusterOptions

  @Option(help: "The tunnel zone.")
  var zone: String = "default"

  @Option(help: "Seconds between announcing the new key and signing with it.")
  var settle: Double = 3

  func run() async throws {
    let zone = TopologyFile.id(.tunnelZone, self.zone)
    try await cluster.withStore { store in
      guard try await store.exists(TunnelZone.self, zone) else {
        throw CommandError("no tunnel zone is named '\(self.zone)'", code: .invalidInput)
      }
      var generator = SystemRandomNumberGenerator()
      let secret = Data((0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) })
        .base64EncodedString()
      let current = try await store.tunnelKeys(zone)
      let added = current.adding(secret: secret)
      try await store.setTunnelKeys(zone, added)
      guard current.signing != nil else {
        print(
          "tunnel zone '\(self.zone)': messages are authenticated from now on (key \(added.signing?.id ?? 0))"
        )
        return
      }
      // Every agent follows the key list with a watch: wait until they have seen it.
      try await Task.sleep(for: .milliseconds(Int(settle * 1000)))
      let promoted = added.promotingNewest()
      try await store.setTunnelKeys(zone, promoted)
      print(
        "tunnel zone '\(self.zone)': signing with key \(promoted.signing?.id ?? 0), still accepting \(promoted.keys.filter { !$0.signs }.map(\.id))"
      )
    }
  }
}
