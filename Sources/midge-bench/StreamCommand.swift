import ArgumentParser
import CommandSupport
import Foundation
import Glibc

/// `midge-bench stream`: a steady TCP stream for failover drills. `serve` accepts one
/// connection and reports, as one JSON line, how many bytes arrived, the longest gap
/// between two reads and how the connection ended; `send` writes at a steady rate for a
/// while and reports whether every write succeeded. Run inside the VM namespaces
/// (`ip netns exec`); both ends are bounded in time.
struct Stream: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "A steady TCP stream for failover drills (serve or send).",
    subcommands: [Serve.self, Send.self])

  struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Accept one stream and report it.")
    @Option(help: "TCP port to listen on.") var port: UInt16
    @Option(help: "Give up after this many seconds.") var seconds: Double = 60

    func validate() throws {
      guard seconds > 0 else { throw ValidationError("--seconds must be more than 0") }
    }

    func run() throws {
      let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
      var one: Int32 = 1
      setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
      var address = sockaddr_in()
      address.sin_family = sa_family_t(AF_INET)
      address.sin_port = port.bigEndian
      let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
          bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
      }
      guard bound == 0, listen(listener, 1) == 0 else {
        throw CommandError("cannot listen on port \(port): errno \(errno)")
      }
      setTimeout(listener, seconds)
      let connection = accept(listener, nil, nil)
      guard connection >= 0 else {
        print(#"{"bytes":0,"longestGapMs":0,"end":"no connection"}"#)
        return
      }
      setTimeout(connection, 1)
      let deadline = Date().addingTimeInterval(seconds)
      var buffer = [UInt8](repeating: 0, count: 65_536)
      var bytes = 0
      var last = Date()
      var longestGap = 0.0
      var end = "timeout"
      while Date() < deadline {
        let count = buffer.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
        if count > 0 {
          bytes += count
          longestGap = max(longestGap, Date().timeIntervalSince(last))
          last = Date()
        } else if count == 0 {
          end = "closed"
          break
        } else if errno != EAGAIN && errno != EWOULDBLOCK {
          end = errno == ECONNRESET ? "reset" : "error \(errno)"
          break
        }
      }
      print(#"{"bytes":\#(bytes),"longestGapMs":\#(Int(longestGap * 1000)),"end":"\#(end)"}"#)
    }
  }

  struct Send: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Send a steady stream.")
    @Option(help: "ADDRESS:PORT to connect to.") var to: String
    @Option(help: "How long to send, in seconds.") var seconds: Double = 20
    @Option(help: "Bytes per second.") var rate: Int = 1_000_000

    func validate() throws {
      guard seconds > 0 else { throw ValidationError("--seconds must be more than 0") }
      guard rate > 0 else { throw ValidationError("--rate must be more than 0") }
      do {
        _ = try socketAddress(to)
      } catch {
        throw ValidationError("--to: \(error)")
      }
    }

    func run() throws {
      var address = try socketAddress(to)
      let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
      setTimeout(fd, 5)
      let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
          connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
      }
      guard connected == 0 else {
        print(#"{"sent":0,"end":"connect failed (errno \#(errno))"}"#)
        throw ExitCode(1)
      }
      let chunk = [UInt8](repeating: 0x6D, count: max(1, rate / 100))
      let started = Date()
      var sent = 0
      var end = "done"
      while Date().timeIntervalSince(started) < seconds {
        let written = chunk.withUnsafeBytes {
          Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
        }
        if written < 0 && errno != EAGAIN && errno != EWOULDBLOCK {
          end = errno == ECONNRESET || errno == EPIPE ? "reset" : "error \(errno)"
          break
        }
        if written > 0 { sent += written }
        usleep(10_000)
      }
      shutdown(fd, Int32(SHUT_WR))
      close(fd)
      print(#"{"sent":\#(sent),"end":"\#(end)"}"#)
    }
  }
}

private func setTimeout(_ fd: Int32, _ seconds: Double) {
  var value = timeval(
    tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1_000_000))
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
}
