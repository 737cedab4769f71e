import Foundation
import Glibc
import MidgeTestSupport
import Testing

/// `midge-bench` as the benchmark scripts and the drills run it: the built binary.
@Suite(
  "midge-bench: refused input, the NSDB benchmark, the drills' stream", .serialized,
  .requires(.product("midge-bench")))
struct MidgeBenchTests {
  static var binary: String { Requirement.productPath("midge-bench") }

  func bench(_ arguments: [String], timeout: Double = 60) -> (status: Int32, output: String) {
    runCommand([Self.binary] + arguments, timeout: timeout)
  }

  @Test("input it cannot use is refused before anything starts, with the reason and the usage")
  func badInput() {
    let cases: [([String], String)] = [
      (["nsdb", "--bridges", "0"], "--bridges must be at least 1"),
      (["nsdb", "--ports", "5", "--bridges", "10"], "must be at least --bridges"),
      (["agent", "--parts", "warp"], "unknown part 'warp'"),
      (["agent", "--agents", "0"], "between 1 and 64 agents"),
      (["stream", "send", "--to", "nowhere"], "'nowhere' is not ADDRESS:PORT"),
      (["stream", "serve", "--port", "5001", "--seconds", "0"], "--seconds must be more than 0"),
      (["proxy", "--listen", "1.2.3:9", "--to", "127.0.0.1:1", "--cut-file", "/x"], "bad IPv4"),
      (["bench", "nsdb"], "unexpected arguments: 'bench', 'nsdb'"),
    ]
    for (arguments, reason) in cases {
      let result = bench(arguments, timeout: 15)
      let command = arguments.joined(separator: " ")
      #expect(result.status == 64, "midge-bench \(command) exited \(result.status)")
      #expect(result.output.contains("Error: "), "\(command): \(result.output)")
      #expect(result.output.contains(reason), "\(command): \(result.output)")
      #expect(result.output.contains("Usage: midge-bench"), "\(command): \(result.output)")
    }
  }

  @Test("nsdb measures against a real ZooKeeper and removes its scratch root")
  func nsdb() async throws {
    let server = try await ZooKeeperServer.shared()
    let result = bench([
      "nsdb", "--zk", server.connectString, "--bridges", "4", "--ports", "40", "--samples", "5",
    ])
    #expect(result.status == 0, "\(result.output)")
    #expect(result.output.contains("create: 40 ports on 4 bridges"), "\(result.output)")
    #expect(result.output.contains("cold load: 40 ports observed"), "\(result.output)")
    #expect(result.output.contains("latency over 5 updates: p50"), "\(result.output)")
    let scratch = try #require(
      result.output.firstMatch(of: /\(scratch root (\/midge-bench-\d+)\)/)?.1,
      "no scratch root named in \(result.output)")
    let left = try await server.withClient(label: "bench") { try await $0.exists(String(scratch)) }
    #expect(left == nil, "\(scratch) is still there")
  }

  @Test("stream: send and serve over loopback report the same bytes and a clean end")
  func stream() async throws {
    let port = try freePort(SOCK_STREAM)
    let served = NSTemporaryDirectory() + "midge-bench-serve-\(UUID().uuidString).json"
    defer { unlink(served) }
    let server = try ChildProcess(
      [Self.binary, "stream", "serve", "--port", "\(port)", "--seconds", "20"], output: served)
    defer { server.stop() }
    // The server listens within moments; the sender's connect would fail before that.
    try await Task.sleep(for: .milliseconds(500))
    let sent = bench(
      ["stream", "send", "--to", "127.0.0.1:\(port)", "--seconds", "1", "--rate", "200000"],
      timeout: 20)
    #expect(sent.status == 0, "\(sent.output)")
    let status = await server.wait(timeout: .seconds(20))
    #expect(status == 0, "stream serve did not end by itself")
    func report(_ text: String) throws -> [String: Any] {
      let line = text.split(separator: "\n").last { $0.hasPrefix("{") } ?? ""
      return try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] ?? [:]
    }
    let client = try report(sent.output)
    let received = try report((try? String(contentsOfFile: served, encoding: .utf8)) ?? "")
    let bytes = client["sent"] as? Int ?? 0
    #expect(client["end"] as? String == "done", "\(client)")
    #expect(bytes > 100_000, "a second at 200 kB/s sent \(bytes) bytes")
    #expect(received["bytes"] as? Int == bytes, "sent \(client), received \(received)")
    #expect(received["end"] as? String == "closed", "\(received)")
  }
}
