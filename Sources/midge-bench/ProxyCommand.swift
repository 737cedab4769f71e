import ArgumentParser
import CommandSupport
import Foundation
import Glibc

/// `midge-bench proxy`: a TCP relay for the partition drill. An agent reaches ZooKeeper
/// through it; while `--cut-file` exists the relay drops every connection and refuses new
/// ones, so the agent is cut from ZooKeeper while it and its datapath keep running (no
/// firewall rules, no route changes). Removing the file lets connections through again.
struct Proxy: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Relay TCP from --listen to --to; cut while --cut-file exists (drills).")

  @Option(help: "ADDRESS:PORT to listen on.") var listen: String
  @Option(help: "ADDRESS:PORT to relay to.") var to: String
  @Option(help: "While this file exists, connections are dropped and refused.")
  var cutFile: String
  @Option(help: "Stop after this many seconds.") var seconds: Double = 600

  func validate() throws {
    guard seconds > 0 else { throw ValidationError("--seconds must be more than 0") }
    for (option, value) in [("--listen", listen), ("--to", to)] {
      do {
        _ = try socketAddress(value)
      } catch {
        throw ValidationError("\(option): \(error)")
      }
    }
  }

  func run() throws {
    let listenAddress = try socketAddress(listen)
    let target = try socketAddress(to)
    let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var one: Int32 = 1
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    var bound = listenAddress
    let ok = withUnsafePointer(to: &bound) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
      }
    }
    guard ok, Glibc.listen(listener, 64) == 0 else {
      throw CommandError("cannot listen on \(listen): errno \(errno)")
    }
    let relay = Relay(cutFile: cutFile)
    let monitor = Thread {
      let deadline = Date().addingTimeInterval(seconds)
      while Date() < deadline {
        relay.checkCut()
        usleep(10_000)
      }
      Glibc.exit(0)
    }
    monitor.start()
    while true {
      let client = accept(listener, nil, nil)
      guard client >= 0 else { continue }
      guard !relay.isCut else {
        close(client)
        continue
      }
      let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
      var remote = target
      let connected = withUnsafePointer(to: &remote) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
          connect(server, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
        }
      }
      guard connected else {
        close(client)
        close(server)
        continue
      }
      relay.add(client, server)
      for (from, into) in [(client, server), (server, client)] {
        Thread {
          var buffer = [UInt8](repeating: 0, count: 16_384)
          while true {
            let count = buffer.withUnsafeMutableBytes { recv(from, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            let sent = buffer.withUnsafeBytes {
              send(into, $0.baseAddress, count, Int32(MSG_NOSIGNAL))
            }
            if sent <= 0 { break }
          }
          relay.drop(client, server)
        }.start()
      }
    }
  }
}

/// The relay's connections and whether it is cut.
private final class Relay: @unchecked Sendable {
  private let lock = NSLock()
  private var pairs: [(Int32, Int32)] = []
  private var cut = false
  let cutFile: String

  init(cutFile: String) { self.cutFile = cutFile }

  var isCut: Bool { lock.withLock { cut } }

  func add(_ a: Int32, _ b: Int32) { lock.withLock { pairs.append((a, b)) } }

  /// Closes a pair once (both pump threads call this when their direction ends).
  func drop(_ a: Int32, _ b: Int32) {
    let found = lock.withLock { () -> Bool in
      guard let index = pairs.firstIndex(where: { $0.0 == a && $0.1 == b }) else { return false }
      pairs.remove(at: index)
      return true
    }
    if found {
      shutdown(a, Int32(SHUT_RDWR))
      shutdown(b, Int32(SHUT_RDWR))
      close(a)
      close(b)
    }
  }

  func checkCut() {
    let now = FileManager.default.fileExists(atPath: cutFile)
    let toDrop: [(Int32, Int32)] = lock.withLock {
      defer { cut = now }
      return now && !cut ? pairs : []
    }
    // Shutting the sockets down ends both pump threads, which close them.
    for (a, b) in toDrop {
      shutdown(a, Int32(SHUT_RDWR))
      shutdown(b, Int32(SHUT_RDWR))
    }
  }
}
