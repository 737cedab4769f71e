import Agent
import Foundation
import Kubernetes
import MidgeTestSupport
import Testing
import Topology
import TopologyFile

/// Every example a newcomer copies from ops/ and docs/ is read by the parser that will
/// read it in use, so an example cannot rot while the format moves on. A YAML file in ops/
/// that no parser here claims fails the test: a new example gets a parser with it.
@Suite("Example files in ops/ and docs/ parse with the real parsers")
struct ExampleFilesTests {
  static let root = ZooKeeperServer.repositoryRoot

  /// The parser an example is meant for, by where it lives or what it declares.
  enum Kind: String {
    case topology, manifests, agentConfiguration
  }

  static func kind(ofFile path: String) -> Kind? {
    if path.hasPrefix("ops/topologies/") { return .topology }
    if path.hasPrefix("ops/k8s/") { return .manifests }
    if path == "ops/midge-agent.yaml" { return .agentConfiguration }
    return nil
  }

  /// Every .yaml/.yml file under ops/, relative to the repository.
  static func opsExamples() -> [String] {
    let base = root + "/ops"
    let files = FileManager.default.enumerator(atPath: base)?.allObjects as? [String] ?? []
    return files.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.map { "ops/" + $0 }
      .sorted()
  }

  /// Parses `text` as `kind`; a failure is recorded naming `source`.
  static func parse(_ text: String, as kind: Kind, source: String) {
    do {
      switch kind {
      case .topology:
        let topology = try TopologyFile.parse(text)
        #expect(!topology.bridges.isEmpty || !topology.routers.isEmpty, "\(source) is empty")
        #expect(topology.validate().isEmpty, "\(source): \(topology.validate())")
      case .manifests:
        let translation = try K8sTranslator().translate(yaml: text)
        #expect(!translation.snapshot.ports.isEmpty, "\(source) gives no pod a port")
        #expect(
          translation.snapshot.validate().isEmpty, "\(source): \(translation.snapshot.validate())")
        #expect(translation.warnings.isEmpty, "\(source): \(translation.warnings)")
      case .agentConfiguration:
        _ = try AgentConfiguration.parse(yaml: text)
      }
    } catch {
      Issue.record("\(source) does not parse as \(kind.rawValue):\n\(error)")
    }
  }

  @Test("every YAML file in ops/ parses: topologies, Kubernetes manifests, agent configuration")
  func opsFiles() throws {
    let examples = Self.opsExamples()
    // The four shipped today; more are welcome, fewer means the walk went wrong.
    #expect(examples.count >= 4, "found \(examples)")
    for path in examples {
      guard let kind = Self.kind(ofFile: path) else {
        Issue.record("\(path): no parser claims this example; add its kind to ExampleFilesTests")
        continue
      }
      let text = try String(contentsOfFile: Self.root + "/" + path, encoding: .utf8)
      Self.parse(text, as: kind, source: path)
    }
  }

  /// The ```yaml blocks of the docs, with the file and line they start at. Schema
  /// notation is fenced as ```text, so every yaml block is an example.
  static func docBlocks() throws -> [(source: String, text: String)] {
    let docs = try FileManager.default.contentsOfDirectory(atPath: root + "/docs")
      .filter { $0.hasSuffix(".md") }.map { "docs/" + $0 }
    var blocks: [(String, String)] = []
    for path in (docs + ["README.md"]).sorted() {
      let lines = try String(contentsOfFile: root + "/" + path, encoding: .utf8)
        .components(separatedBy: "\n")
      var start: Int?
      var body: [String] = []
      for (index, line) in lines.enumerated() {
        if let opened = start {
          if line.hasPrefix("```") {
            blocks.append(("\(path):\(opened + 1)", body.joined(separator: "\n")))
            start = nil
            body = []
          } else {
            body.append(line)
          }
        } else if line.hasPrefix("```yaml") || line.hasPrefix("```yml") {
          start = index
        }
      }
    }
    return blocks
  }

  @Test(
    "the docs name only example files that exist (and are parsed above); their yaml blocks parse"
  )
  func docExamples() throws {
    let shipped = Set(Self.opsExamples())
    var named: Set<String> = []
    for path in try FileManager.default.contentsOfDirectory(atPath: Self.root + "/docs")
    where path.hasSuffix(".md") {
      named.formUnion(try Self.examplePaths(in: "docs/" + path))
    }
    named.formUnion(try Self.examplePaths(in: "README.md"))
    #expect(named.contains("ops/topologies/demo.yaml") && named.contains("ops/k8s/xyz.yaml"))
    for path in named.sorted() {
      #expect(shipped.contains(path), "the docs name \(path), which ops/ does not ship")
    }
    for (source, text) in try Self.docBlocks() {
      Self.parse(text, as: text.contains("apiVersion:") ? .manifests : .topology, source: source)
    }
  }

  /// The `ops/...yaml` paths a document names.
  static func examplePaths(in document: String) throws -> Set<String> {
    let text = try String(contentsOfFile: root + "/" + document, encoding: .utf8)
    let pattern = try Regex(#"ops/[A-Za-z0-9_./-]+\.ya?ml"#)
    return Set(text.matches(of: pattern).map { String(text[$0.range]) })
  }
}
