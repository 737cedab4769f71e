import Foundation
import Testing
import Topology
import TopologyFile

@Suite("Topology file: inputs are bounded before anything is built")
struct LimitTests {
  /// The single limit error a parse throws, or nil (and an issue) when it does not.
  func limitError(_ text: String, limits: TopologyFileLimits = .default) -> TopologyFileError? {
    do {
      _ = try TopologyFile.parse(text, limits: limits)
      Issue.record("the file parsed")
      return nil
    } catch {
      #expect(error.errors.count == 1, "\(error)")
      #expect(error.errors.first?.code == .limit, "\(error)")
      return error.errors.first
    }
  }

  /// Peak resident memory of this process, in bytes (Linux).
  func peakMemory() -> Int {
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
      let kilobytes = line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
      return kilobytes * 1024
    }
    return 0
  }

  @Test("an alias bomb of a few kilobytes fails at once, naming the node limit, without building")
  func aliasBomb() throws {
    // Six levels of ten aliases: a million rules of five nodes each.
    var text = "chains:\n  - name: c\n    rules:\n"
    text += "      - &r0 {action: drop, nwProto: tcp}\n"
    for level in 1...6 {
      let aliases = Array(repeating: "*r\(level - 1)", count: 10).joined(separator: ", ")
      text += "      - &r\(level) [\(aliases)]\n"
    }
    #expect(text.utf8.count < 1000)
    let before = peakMemory()
    let began = ContinuousClock.now
    let error = try #require(limitError(text))
    let took = ContinuousClock.now - began
    #expect(error.message.contains("1000000 YAML nodes"), "\(error)")
    #expect(error.message.contains("--max-yaml-nodes"), "\(error)")
    #expect(error.line != nil, "the error names the line of the alias that passed the limit")
    // Reading the events of a 1 KB text takes microseconds; building a million rules took
    // seconds and gigabytes. The bounds leave a margin of a thousand times.
    #expect(took < .seconds(2), "took \(took)")
    #expect(peakMemory() - before < 256 << 20, "peak memory grew by \(peakMemory() - before)")

    // Aliases as mapping keys: composing would hash each key's whole expansion.
    var keys = "a0: &k0 [x, x, x, x, x, x, x, x, x, x]\n"
    for level in 1...9 {
      keys +=
        "a\(level): &k\(level) [\(Array(repeating: "*k\(level - 1)", count: 10).joined(separator: ", "))]\n"
    }
    keys += "bomb: {? *k9 : 1}\n"
    let began2 = ContinuousClock.now
    #expect(limitError(keys)?.message.contains("YAML nodes") == true)
    #expect(ContinuousClock.now - began2 < .seconds(2))
  }

  @Test("a modest use of aliases is fine, and the node limit can be raised")
  func modestAliases() throws {
    let text = """
      chains:
        - name: a
          rules: &common
            - {action: drop, nwProto: tcp, tpDst: 22}
            - {action: accept}
        - name: b
          rules: *common
      """
    let topology = try TopologyFile.parse(text)
    #expect(topology.rules.count == 4)
    let tight = TopologyFileLimits(maxNodes: 10)
    #expect(limitError(text, limits: tight)?.message.contains("more than 10 YAML nodes") == true)
  }

  @Test("a file over the size limit is refused before it is parsed")
  func oversizedFile() throws {
    let big = "# " + String(repeating: "x", count: 2000) + "\n"
    let error = try #require(limitError(big, limits: TopologyFileLimits(maxBytes: 1024)))
    #expect(error.message.contains("over the limit of 1024 bytes"), "\(error)")
    #expect(error.message.contains("--max-file-size"))
    #expect(TopologyFileLimits.default.maxBytes == 16 << 20)
  }

  @Test("too many objects and too deep nesting are refused, naming the limit")
  func objectsAndDepth() throws {
    var text = "bridges:\n"
    for index in 0..<50 { text += "  - {name: b\(index)}\n" }
    let error = try #require(limitError(text, limits: TopologyFileLimits(maxObjects: 20)))
    #expect(error.message.contains("50 objects, over the limit of 20"), "\(error)")
    #expect(error.message.contains("--max-objects"))

    let deep = String(repeating: "[", count: 500) + String(repeating: "]", count: 500)
    let nested = try #require(limitError("bridges: " + deep))
    #expect(nested.message.contains("nested more than 64 deep"), "\(nested)")
  }
}
