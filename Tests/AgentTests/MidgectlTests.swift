import Foundation
import MidgeTestSupport
import Testing

/// `midgectl` as an operator runs it: the built binary against a real ZooKeeper.
@Suite("midgectl commands against a live NSDB", .serialized, .requires(.product("midgectl")))
struct MidgectlTests {
  static var binary: String { Requirement.productPath("midgectl") }

  static let demo = ZooKeeperServer.repositoryRoot + "/ops/topologies/demo.yaml"

  func midgectl(_ zk: String, _ root: String, _ arguments: [String]) -> (
    status: Int32, output: String
  ) {
    runCommand([Self.binary] + arguments + ["--zk", zk, "--root", root], timeout: 30)
  }

  @Test(
    "apply, get (table, json, yaml by type and name), trace -o json, export round trip, delete, check"
  )
  func commands() async throws {
    let zk = try await ZooKeeperServer.shared().connectString
    let root = "/midgectl-\(UUID().uuidString.prefix(8).lowercased())"
    let applied = midgectl(zk, root, ["apply", "-f", Self.demo])
    #expect(applied.status == 0, "\(applied.output)")
    #expect(midgectl(zk, root, ["apply", "-f", Self.demo]).output.contains("no changes"))

    let json = midgectl(zk, root, ["get", "ports", "-o", "json"])
    #expect(json.status == 0)
    let rows = try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [[String: Any]]
    let names = Set((rows ?? []).compactMap { $0["name"] as? String })
    #expect(names.isSuperset(of: ["vm-a1", "vm-b2"]), "\(names)")

    let bridges = midgectl(zk, root, ["get", "bridges", "-o", "yaml"])
    #expect(bridges.output.contains("tenant-a") && bridges.output.contains("tenant-b"))
    #expect(!bridges.output.contains("routers:"), "get bridges -o yaml printed routers")
    let one = midgectl(zk, root, ["get", "port", "vm-a1", "-o", "yaml"])
    #expect(one.output.contains("vm-a1") && !one.output.contains("vm-b1"))
    let missing = midgectl(zk, root, ["get", "bridge", "nope", "-o", "yaml"])
    #expect(missing.status != 0 && missing.output.contains("no Bridge is named 'nope'"))

    let trace = midgectl(
      zk, root,
      ["trace", "--port", "vm-a2", "--packet", "icmp 10.10.1.3 > 10.10.2.3", "-o", "json"])
    let verdict = try JSONSerialization.jsonObject(with: Data(trace.output.utf8)) as? [String: Any]
    #expect(verdict?["verdict"] as? String == "drop", "\(trace.output)")
    #expect((verdict?["steps"] as? [String])?.isEmpty == false)
    #expect(verdict?["egressPorts"] as? [String] == [])

    // No agent runs: hosts are not alive and no exterior port is active.
    let hosts = midgectl(zk, root, ["hosts"])
    #expect(hosts.status == 0 && hosts.output.contains("host-a") && hosts.output.contains("NO"))
    let ports = midgectl(zk, root, ["ports"])
    let vmA1 = ports.output.split(separator: "\n").first { $0.hasPrefix("vm-a1") } ?? ""
    #expect(vmA1.contains("NO") && vmA1.contains("host-a:mvm-a1"), "\(ports.output)")
    let graph = midgectl(zk, root, ["graph"])
    #expect(graph.output.hasPrefix("digraph") || graph.output.contains("digraph"))
    #expect(graph.output.contains("->") && graph.output.contains("tenant-a"))

    let exported = midgectl(zk, root, ["export"])
    let file = NSTemporaryDirectory() + "midgectl-export-\(UUID().uuidString).yaml"
    defer { unlink(file) }
    try exported.output.write(toFile: file, atomically: true, encoding: .utf8)
    let copy = root + "-copy"
    #expect(midgectl(zk, copy, ["apply", "-f", file]).status == 0)
    #expect(
      midgectl(zk, copy, ["export"]).output == exported.output, "export → apply → export differs")

    // A file that gives a new port a tunnel key a port outside it already uses.
    let clash = NSTemporaryDirectory() + "midgectl-clash-\(UUID().uuidString).yaml"
    defer { unlink(clash) }
    try "bridges:\n  - name: other\n    ports:\n      - {name: newcomer, tunnelKey: 1}\n".write(
      toFile: clash, atomically: true, encoding: .utf8)
    let refused = midgectl(zk, root, ["apply", "-f", clash])
    #expect(refused.status != 0 && refused.output.contains("already uses"), "\(refused.output)")

    let deleted = midgectl(zk, root, ["delete", "bridge", "tenant-b"])
    #expect(deleted.status == 0, "\(deleted.output)")
    #expect(
      !midgectl(zk, root, ["get", "ports"]).output.contains("vm-b1"), "ports cascade with it")
    let check = midgectl(zk, root, ["check"])
    #expect(check.status == 0 && check.output.contains("no orphaned state"), "\(check.output)")
  }

  @Test("a broken topology file is refused with line and field, and writes nothing")
  func brokenFile() async throws {
    let zk = try await ZooKeeperServer.shared().connectString
    let root = "/midgectl-\(UUID().uuidString.prefix(8).lowercased())"
    let file = NSTemporaryDirectory() + "midgectl-broken-\(UUID().uuidString).yaml"
    defer { unlink(file) }
    try """
    bridges:
      - name: b
        ports:
          - {name: p, host: nowhere, interface: x}
    """.write(toFile: file, atomically: true, encoding: .utf8)
    let result = midgectl(zk, root, ["apply", "-f", file])
    #expect(result.status != 0)
    #expect(result.output.contains("line 4"), "\(result.output)")
    #expect(result.output.contains("no Host is named 'nowhere'"), "\(result.output)")
    let bridges = midgectl(zk, root, ["get", "bridges", "-o", "json"])
    let rows = try JSONSerialization.jsonObject(with: Data(bridges.output.utf8)) as? [Any]
    #expect(rows?.isEmpty == true, "the refused file wrote something: \(bridges.output)")
  }
}
