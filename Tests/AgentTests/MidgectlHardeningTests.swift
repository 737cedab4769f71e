import Foundation
import MidgeTestSupport
import Testing
import Topology
import TopologyFile

/// `midgectl` with hostile inputs and a damaged NSDB: nothing crashes, hides or half-writes.
@Suite(
  "midgectl hardening: corrupt objects, refused files, hostile strings", .serialized,
  .requires(.product("midgectl")))
struct MidgectlHardeningTests {
  func midgectl(_ zk: String, _ root: String, _ arguments: [String]) -> (
    status: Int32, output: String
  ) {
    MidgectlTests.run(zk, root, arguments)
  }

  func temporaryFile(_ text: String) throws -> String {
    try MidgectlTests.temporaryFile(text, prefix: "midgectl-hardening")
  }

  @Test("a corrupt object is named by get, ports, export and check, and repaired by raw or apply")
  func corruptObject() async throws {
    let server = try await ZooKeeperServer.shared()
    let zk = server.connectString
    let root = "/midgectl-\(UUID().uuidString.prefix(8).lowercased())"
    #expect(midgectl(zk, root, ["apply", "-f", MidgectlTests.demo]).status == 0)
    let original = midgectl(zk, root, ["export"])
    #expect(original.status == 0)
    let id = TopologyFile.id(.port, "vm-b1")
    let path = "\(root)/v1/models/Port/\(id)"
    let backup = NSTemporaryDirectory() + "midgectl-vm-b1-\(UUID().uuidString).bin"
    defer { unlink(backup) }

    try await server.withClient(label: "corrupt") { client in
      let good = try await client.get(path).data
      try Data(good).write(to: URL(fileURLWithPath: backup))
      func corrupt() async throws {
        _ = try await client.set(path, data: Array("garbage, not protobuf \u{1}\u{2}".utf8))
      }
      try await corrupt()

      // get and ports list the rest and name the corrupt port.
      let get = midgectl(zk, root, ["get", "ports"])
      #expect(get.status == 0, "\(get.output)")
      #expect(get.output.contains("vm-a1") && !get.output.contains("vm-b1 "), "\(get.output)")
      #expect(get.output.contains("Port \(id) at \(path) cannot be decoded"), "\(get.output)")
      let ports = midgectl(zk, root, ["ports"])
      #expect(ports.output.contains("Port \(id) at \(path) cannot be decoded"), "\(ports.output)")

      // export refuses rather than write a file without it; --partial writes and warns.
      let export = midgectl(zk, root, ["export"])
      #expect(export.status != 0, "\(export.output)")
      #expect(export.output.contains("refusing to export") && export.output.contains(path))
      #expect(!export.output.contains("bridges:"), "export wrote a file: \(export.output)")
      let partial = midgectl(zk, root, ["export", "--partial"])
      #expect(partial.status == 0 && partial.output.contains("bridges:"))
      #expect(partial.output.contains("left out of this partial export"), "\(partial.output)")

      // check reports it and fails.
      let check = midgectl(zk, root, ["check"])
      #expect(check.status == 1, "\(check.output)")
      #expect(check.output.contains("Port \(id) at \(path) cannot be decoded"), "\(check.output)")

      // raw get shows the bytes and why they do not decode, by name, id or path.
      for target in [["port", "vm-b1"], ["port", "\(id)"], [path]] {
        let raw = midgectl(zk, root, ["raw", "get"] + target)
        #expect(raw.status == 0, "\(raw.output)")
        #expect(raw.output.contains("decodes: NO"), "\(raw.output)")
        #expect(raw.output.contains("67 61 72 62 61 67 65") && raw.output.contains("|garbage"))
      }

      // delete by name explains; diff and an unrelated apply work around it.
      let delete = midgectl(zk, root, ["delete", "port", "vm-b1"])
      #expect(delete.status != 0 && delete.output.contains("raw delete"), "\(delete.output)")
      let diff = midgectl(zk, root, ["diff", "-f", MidgectlTests.demo])
      #expect(diff.status == 0, "\(diff.output)")
      #expect(diff.output.contains("! Port vm-b1"), "\(diff.output)")
      let other = try temporaryFile("bridges:\n  - name: unrelated\n")
      defer { unlink(other) }
      let unrelated = midgectl(zk, root, ["apply", "-f", other])
      #expect(unrelated.status == 0, "\(unrelated.output)")
      #expect(midgectl(zk, root, ["delete", "bridge", "unrelated"]).status == 0)

      // Repair 1: raw delete, then re-apply the file: as before.
      let removed = midgectl(zk, root, ["raw", "delete", "port", "vm-b1"])
      #expect(removed.status == 0, "\(removed.output)")
      #expect(removed.output.contains("removed it from"), "\(removed.output)")
      #expect(try await client.exists(path) == nil)
      let clean = midgectl(zk, root, ["check"])
      #expect(clean.status == 0 && clean.output.contains("no orphaned state"), "\(clean.output)")
      #expect(midgectl(zk, root, ["apply", "-f", MidgectlTests.demo]).status == 0)
      #expect(midgectl(zk, root, ["export"]).output == original.output)

      // Repair 2: re-applying a file that names it overwrites it cleanly.
      try await corrupt()
      let reapplied = midgectl(zk, root, ["apply", "-f", MidgectlTests.demo])
      #expect(reapplied.status == 0, "\(reapplied.output)")
      #expect(reapplied.output.contains("1 corrupt to overwrite"), "\(reapplied.output)")
      #expect(midgectl(zk, root, ["export"]).output == original.output)
      #expect(midgectl(zk, root, ["check"]).status == 0)

      // Repair 3: raw put of a copy of its bytes.
      try await corrupt()
      let put = midgectl(zk, root, ["raw", "put", "port", "vm-b1", "--from", backup])
      #expect(put.status == 0 && put.output.contains("was corrupt"), "\(put.output)")
      #expect(midgectl(zk, root, ["export"]).output == original.output)
      let wrong = midgectl(zk, root, ["raw", "put", "port", "vm-a1", "--from", backup])
      #expect(wrong.status != 0 && wrong.output.contains("keeps its id"), "\(wrong.output)")
      try await client.deleteRecursively(root)
    }
  }

  @Test("a refused file on a fresh root writes nothing, not even the layout")
  func refusedOnFreshRoot() async throws {
    let server = try await ZooKeeperServer.shared()
    let root = "/midgectl-\(UUID().uuidString.prefix(8).lowercased())"
    let file = try temporaryFile(
      "bridges:\n  - name: b\n    ports:\n      - {name: p, host: nowhere, interface: x}\n")
    defer { unlink(file) }
    let result = midgectl(server.connectString, root, ["apply", "-f", file])
    #expect(result.status != 0 && result.output.contains("no Host is named 'nowhere'"))
    let diff = midgectl(server.connectString, root, ["diff", "-f", MidgectlTests.demo])
    #expect(diff.status == 0 && diff.output.contains("to create"), "\(diff.output)")
    let exists = try await server.withClient(label: "fresh") { client in
      try await client.exists(root) != nil
    }
    #expect(!exists, "a refused apply or a diff wrote \(root)")
  }

  @Test("trace with a hostile packet string is an error, not a crash")
  func hostileTrace() async throws {
    let zk = try await ZooKeeperServer.shared().connectString
    let root = "/midgectl-\(UUID().uuidString.prefix(8).lowercased())"
    for packet in ["tcp : > 10.77.1.3:80", "", "tcp 1.1.1.1:99999 > 2.2.2.2:1"] {
      let result = midgectl(zk, root, ["trace", "--port", "vm-a1", "--packet", packet])
      #expect(result.status == 1, "\(packet): \(result.status) \(result.output)")
      #expect(result.output.contains("--packet:"), "\(result.output)")
    }
  }
}
