import Foundation
import Kubernetes
import MidgeTestSupport
import NSDB
import Testing
import Topology

/// `midgectl diff` and `midgectl k8s apply` as an operator runs them: the built binary
/// against a real ZooKeeper, checked on what it prints, how it exits and what the store
/// holds afterwards.
@Suite(
  "midgectl diff and k8s apply against a live NSDB", .serialized,
  .requires(.product("midgectl")))
struct MidgectlPlanTests {
  func midgectl(_ zk: String, _ root: String, _ arguments: [String]) -> (
    status: Int32, output: String
  ) {
    MidgectlTests.run(zk, root, arguments)
  }

  func temporaryFile(_ text: String) throws -> String {
    try MidgectlTests.temporaryFile(text, prefix: "midgectl-plan")
  }

  func freshRoot() -> String { "/midgectl-plan-\(UUID().uuidString.prefix(8).lowercased())" }

  /// The demo topology with three changes: a new bridge, vm-a2 on another interface,
  /// and vm-b2 no longer named.
  static func changedDemo() throws -> String {
    let demo = try String(contentsOfFile: MidgectlTests.demo, encoding: .utf8)
    let vmB2 = "      - name: vm-b2\n        host: host-a\n        interface: mvm-b2\n"
    guard demo.contains(vmB2), demo.contains("interface: mvm-a2\n") else {
      throw HarnessError("ops/topologies/demo.yaml changed: update changedDemo()")
    }
    return
      demo
      .replacingOccurrences(of: "interface: mvm-a2\n", with: "interface: mvm-a2x\n")
      .replacingOccurrences(of: vmB2, with: "")
      .replacingOccurrences(of: "\nbridges:\n", with: "\nbridges:\n  - name: tenant-c\n")
  }

  @Test(
    "diff shows what apply then does (creates, updates, deletes with --prune) and writes nothing")
  func diffPredictsApply() async throws {
    let zk = try await ZooKeeperServer.shared().connectString
    let root = freshRoot()
    #expect(midgectl(zk, root, ["apply", "-f", MidgectlTests.demo]).status == 0)
    let before = midgectl(zk, root, ["export"])
    #expect(before.status == 0)
    let changed = try temporaryFile(try Self.changedDemo())
    defer { unlink(changed) }

    let diff = midgectl(zk, root, ["diff", "-f", changed])
    #expect(diff.status == 0, "\(diff.output)")
    let lines = Set(diff.output.split(separator: "\n").map(String.init))
    #expect(lines.contains("+ Bridge tenant-c"), "\(diff.output)")
    #expect(lines.contains("~ Port vm-a2"), "\(diff.output)")
    #expect(!lines.contains("- Port vm-b2"), "without --prune nothing is deleted: \(diff.output)")

    let pruning = midgectl(zk, root, ["diff", "--prune", "-f", changed])
    #expect(pruning.status == 0, "\(pruning.output)")
    #expect(pruning.output.contains("- Port vm-b2"), "\(pruning.output)")
    #expect(pruning.output.contains("1 to delete"), "\(pruning.output)")
    #expect(midgectl(zk, root, ["export"]).output == before.output, "a diff wrote to the NSDB")

    // What diff predicted is what apply does, line for line; then nothing is left to do.
    let applied = midgectl(zk, root, ["apply", "--prune", "-f", changed])
    #expect(applied.status == 0, "\(applied.output)")
    #expect(
      applied.output == pruning.output,
      "diff said:\n\(pruning.output)\napply did:\n\(applied.output)")
    let after = midgectl(zk, root, ["diff", "--prune", "-f", changed])
    #expect(after.status == 0 && after.output.contains("no changes"), "\(after.output)")
    let ports = midgectl(zk, root, ["get", "ports", "-o", "json"])
    let rows = try JSONSerialization.jsonObject(with: Data(ports.output.utf8)) as? [[String: Any]]
    let names = Set((rows ?? []).compactMap { $0["name"] as? String })
    #expect(!names.contains("vm-b2") && names.contains("vm-a2"), "\(names)")

    // A file that does not parse: refused with its line, nothing read or written.
    let broken = try temporaryFile("bridges:\n  - name: b\n    ports: {oops\n")
    defer { unlink(broken) }
    let refused = midgectl(zk, root, ["diff", "-f", broken])
    #expect(refused.status != 0, "\(refused.output)")
    #expect(refused.output.contains("line"), "\(refused.output)")
    try await ZooKeeperServer.shared().withClient(label: "plan") {
      try await $0.deleteRecursively(root)
    }
  }

  @Test(
    "a port moving to another host: diff shows the move, apply does what diff said, then nothing is left and check finds nothing; a move to a host the file does not name is refused and writes nothing"
  )
  func portMove() async throws {
    let server = try await ZooKeeperServer.shared()
    let zk = server.connectString
    let root = freshRoot()
    func file(p2On host: String) -> String {
      """
      hosts:
        - {name: m1}
        - {name: m2}
      bridges:
        - name: b
          ports:
            - {name: p1, host: m1, interface: tap1}
            - {name: p2, host: \(host), interface: tap2}
      """
    }
    let onM2 = try temporaryFile(file(p2On: "m2"))
    let onM1 = try temporaryFile(file(p2On: "m1"))
    let onM3 = try temporaryFile(file(p2On: "m3"))
    defer { for path in [onM2, onM1, onM3] { unlink(path) } }
    let first = midgectl(zk, root, ["apply", "-f", onM2])
    #expect(first.status == 0, "\(first.output)")

    let diff = midgectl(zk, root, ["diff", "-f", onM1])
    #expect(diff.status == 0, "\(diff.output)")
    let lines = diff.output.split(separator: "\n").map(String.init)
    #expect(lines.contains("~ Port p2: host m2 -> m1"), "\(diff.output)")
    #expect(lines.contains("~ Host m1") && lines.contains("~ Host m2"), "\(diff.output)")
    #expect(lines.contains("0 to create, 3 to update, 0 to delete"), "\(diff.output)")

    let applied = midgectl(zk, root, ["apply", "-f", onM1])
    #expect(applied.status == 0, "\(applied.output)")
    #expect(
      applied.output == diff.output, "diff said:\n\(diff.output)\napply did:\n\(applied.output)")
    let after = midgectl(zk, root, ["diff", "--prune", "-f", onM1])
    #expect(after.status == 0 && after.output.contains("no changes"), "\(after.output)")
    let check = midgectl(zk, root, ["check"])
    #expect(check.status == 0 && check.output.contains("no orphaned state"), "\(check.output)")
    try await server.withClient(label: "port-move") { client in
      let store = NSDBStore(client: client, root: root, logger: ZooKeeperServer.logger("move"))
      let hosts = try await store.getAll(Host.self)
      let ports = try await store.getAll(Port.self)
      let m1 = hosts.first { $0.name == "m1" }
      let m2 = hosts.first { $0.name == "m2" }
      let p2 = ports.first { $0.name == "p2" }
      #expect(p2 != nil && p2?.hostId == m1?.id)
      #expect(m1?.portIds.count == 2 && m1?.portIds.contains(p2?.id ?? .zero) == true)
      #expect(m2?.portIds.isEmpty == true)
    }

    // m3 is not in the file: refused before anything is read or written.
    let exported = midgectl(zk, root, ["export"]).output
    let refused = midgectl(zk, root, ["apply", "-f", onM3])
    #expect(refused.status != 0, "\(refused.output)")
    #expect(refused.output.contains("no Host is named 'm3'"), "\(refused.output)")
    #expect(midgectl(zk, root, ["export"]).output == exported, "a refused apply wrote")
    try await server.withClient(label: "port-move-clean") { try await $0.deleteRecursively(root) }
  }

  @Test(
    "k8s apply: --dry-run writes nothing; apply writes pods, ports and their MAC/ARP entries; again is no change; --prune removes a pod; bad manifests are refused"
  )
  func k8sApply() async throws {
    let server = try await ZooKeeperServer.shared()
    let zk = server.connectString
    let root = freshRoot()
    let manifests = ZooKeeperServer.repositoryRoot + "/ops/k8s/xyz.yaml"
    let text = try String(contentsOfFile: manifests, encoding: .utf8)
    let expected = try K8sTranslator().translate(yaml: text).snapshot

    let dryRun = midgectl(zk, root, ["k8s", "apply", "--dry-run", "-f", manifests])
    #expect(dryRun.status == 0, "\(dryRun.output)")
    #expect(dryRun.output.contains("+ Port x/a"), "\(dryRun.output)")
    #expect(!dryRun.output.contains("state tables"), "a dry run seeded state: \(dryRun.output)")
    let empty = midgectl(zk, root, ["get", "ports", "-o", "json"])
    let none = try JSONSerialization.jsonObject(with: Data(empty.output.utf8)) as? [Any]
    #expect(none?.isEmpty == true, "the dry run wrote ports: \(empty.output)")

    let applied = midgectl(zk, root, ["k8s", "apply", "-f", manifests])
    #expect(applied.status == 0, "\(applied.output)")
    #expect(applied.output.contains("pod MAC/ARP entries added"), "\(applied.output)")
    try await server.withClient(label: "k8s-apply") { client in
      let store = NSDBStore(client: client, root: root, logger: ZooKeeperServer.logger("k8s"))
      let ports = try await store.getAll(Port.self)
      #expect(Set(ports.map(\.id)) == Set(expected.ports.keys), "ports: \(ports.map(\.name))")
      #expect(ports.contains { $0.name == "x/a" })
      let bridges = try await store.getAll(Bridge.self)
      #expect(Set(bridges.map(\.id)) == Set(expected.bridges.keys))
    }

    let again = midgectl(zk, root, ["k8s", "apply", "-f", manifests])
    #expect(again.status == 0 && again.output.contains("no changes"), "\(again.output)")
    #expect(!again.output.contains("entries added"), "\(again.output)")

    // x/c gone from the manifests: --prune deletes its port, and its entries go too.
    let withoutXC = try temporaryFile(try Self.removingPod("c", namespace: "x", from: text))
    defer { unlink(withoutXC) }
    let pruned = midgectl(zk, root, ["k8s", "apply", "--prune", "-f", withoutXC])
    #expect(pruned.status == 0, "\(pruned.output)")
    #expect(pruned.output.contains("- Port x/c"), "\(pruned.output)")
    #expect(pruned.output.contains("removed"), "\(pruned.output)")
    let names = midgectl(zk, root, ["get", "ports"]).output
    #expect(!names.contains("x/c") && names.contains("x/a"), "\(names)")

    // A pod address that is not one: refused, naming it, and nothing changes.
    let exported = midgectl(zk, root, ["export"]).output
    let broken = try temporaryFile(
      text.replacingOccurrences(of: "podIP: 10.0.1.10", with: "podIP: 10.0.1.300"))
    defer { unlink(broken) }
    let refused = midgectl(zk, root, ["k8s", "apply", "-f", broken])
    #expect(refused.status != 0, "\(refused.output)")
    #expect(refused.output.contains("10.0.1.300"), "\(refused.output)")
    #expect(midgectl(zk, root, ["export"]).output == exported, "a refused apply wrote")
    try await server.withClient(label: "k8s-clean") { try await $0.deleteRecursively(root) }
  }

  /// `text` without the Pod document `namespace/name`.
  static func removingPod(_ name: String, namespace: String, from text: String) throws -> String {
    let documents = text.components(separatedBy: "\n---\n")
    let kept = documents.filter { document in
      !(document.contains("kind: Pod") && document.contains("  name: \(name)\n")
        && document.contains("  namespace: \(namespace)\n"))
    }
    guard kept.count == documents.count - 1 else {
      throw HarnessError("no single Pod \(namespace)/\(name) in the manifests")
    }
    return kept.joined(separator: "\n---\n")
  }
}
