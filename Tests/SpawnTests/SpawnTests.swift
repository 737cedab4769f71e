import Foundation
import Glibc
import Spawn
import Testing

@Suite("Spawn: children start clean")
struct SpawnTests {
  @Test("a child gets stdin, stdout and stderr, and none of the parent's other descriptors")
  func descriptorsDoNotLeak() throws {
    var pipeEnds: [Int32] = [0, 0]
    try #require(pipe(&pipeEnds) == 0)
    let socketFD = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    try #require(socketFD >= 0)
    defer {
      close(pipeEnds[0])
      close(pipeEnds[1])
      close(socketFD)
    }
    let output = NSTemporaryDirectory() + "midge-spawn-\(getpid()).out"
    defer { unlink(output) }
    // The shell lists its own descriptors (the glob runs in the shell, not in ls).
    let pid = try Spawn.start(
      ["sh", "-c", "cd /proc/self/fd && echo *"], environment: ["PATH": "/usr/bin:/bin"],
      output: output, detachInput: true)
    var status: Int32 = 0
    try #require(waitpid(pid, &status, 0) == pid)
    #expect(Spawn.exitStatus(status) == 0)
    let listed = try String(contentsOfFile: output, encoding: .utf8)
      .split(whereSeparator: \.isWhitespace).compactMap { Int32($0) }
    #expect(listed.contains(1))
    for inherited in [pipeEnds[0], pipeEnds[1], socketFD] {
      #expect(!listed.contains(inherited), "descriptor \(inherited) leaked: \(listed)")
    }
    #expect(listed.allSatisfy { $0 <= 3 }, "\(listed)")
  }
}
