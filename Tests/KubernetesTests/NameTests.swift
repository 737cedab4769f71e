import Kubernetes
import Testing
import Topology

@Suite("Manifest names follow the topology file's name rules")
struct NameTests {
  @Test("a control character or an overlong name in metadata is refused with its field")
  func names() {
    for (metadata, field, words) in [
      ("{name: \"a\\nb\", namespace: x}", "metadata.name", "control character U+000A"),
      ("{name: a, namespace: \" x\"}", "metadata.namespace", "begins or ends with whitespace"),
      (
        "{name: \(String(repeating: "p", count: 230)), namespace: x}", "metadata.name",
        "bytes together"
      ),
    ] {
      let yaml =
        "kind: Pod\nmetadata: \(metadata)\nspec: {nodeName: n}\nstatus: {podIP: 10.0.0.2}\n"
      do {
        _ = try ManifestParser.parse(yaml)
        Issue.record("\(metadata) parsed")
      } catch {
        #expect(error.errors.contains { $0.field == field }, "\(error)")
        #expect(error.description.contains(words), "\(error)")
      }
    }
  }
}
