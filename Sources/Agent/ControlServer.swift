import Dispatch
import Foundation
import Glibc
import Logging

/// A request to the control API: `GET /path?query`.
public struct ControlRequest: Sendable {
  public var path: String
  public var query: [String: String]
}

/// A control API answer.
public struct ControlResponse: Sendable {
  public var status: Int
  public var contentType: String
  public var body: String

  public init(status: Int = 200, contentType: String = "application/json", body: String) {
    self.status = status
    self.contentType = contentType
    self.body = body
  }
}

/// A deliberately small HTTP/1.0 server for the agent's control API and metrics.
///
/// Why not SwiftNIO or Hummingbird: the API is a handful of GETs from an operator's
/// `curl` and a Prometheus scraper, on loopback; one thread with blocking sockets does
/// that in a page of code, and keeps the agent's build and dependency set small. Each
/// connection carries one request (`Connection: close`), read with a 2 s timeout so a
/// stuck client cannot hold the thread for long. The handler runs as a task; the accept
/// thread waits for it, so requests are answered one at a time — the control API is not a
/// data path.
public final class ControlServer: Sendable {
  public let port: UInt16
  private let socket: Int32

  /// Listens on `address` (ADDRESS:PORT; port 0 picks one) and serves `handler`.
  public init(
    address: String, logger: Logger,
    handler: @escaping @Sendable (ControlRequest) async -> ControlResponse
  ) throws(AgentError) {
    guard let (ip, port) = AgentConfiguration.hostPort(address) else {
      throw AgentError(.control, "'\(address)' is not ADDRESS:PORT")
    }
    let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else {
      throw AgentError(.control, "socket: \(String(cString: strerror(errno)))")
    }
    var one: Int32 = 1
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    var sin = sockaddr_in()
    sin.sin_family = sa_family_t(AF_INET)
    sin.sin_port = port.bigEndian
    sin.sin_addr.s_addr = ip.bigEndian
    let bound = withUnsafePointer(to: &sin) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    guard bound == 0, listen(fd, 16) == 0 else {
      let reason = String(cString: strerror(errno))
      close(fd)
      throw AgentError(.control, "cannot listen on \(address): \(reason)")
    }
    var actual = sockaddr_in()
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &actual) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    self.port = UInt16(bigEndian: actual.sin_port)
    self.socket = fd
    let thread = Thread {
      while true {
        let client = accept(fd, nil, nil)
        if client < 0 {
          if errno == EINTR { continue }
          return  // the listening socket was shut down
        }
        Self.serve(client, handler: handler, logger: logger)
        close(client)
      }
    }
    thread.name = "midge-control"
    thread.start()
    logger.info("control API listening", metadata: ["agent.control": "127.0.0.1:\(self.port)"])
  }

  /// Stops accepting; a request being served finishes.
  public func stop() {
    shutdown(socket, Int32(SHUT_RDWR))
  }

  deinit {
    shutdown(socket, Int32(SHUT_RDWR))
    close(socket)
  }

  private static func serve(
    _ client: Int32, handler: @escaping @Sendable (ControlRequest) async -> ControlResponse,
    logger: Logger
  ) {
    var timeout = timeval(tv_sec: 2, tv_usec: 0)
    setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var buffer = [UInt8](repeating: 0, count: 8192)
    var received = 0
    while received < buffer.count {
      let n = buffer.withUnsafeMutableBytes {
        recv(client, $0.baseAddress! + received, $0.count - received, 0)
      }
      if n <= 0 { break }
      received += n
      if buffer[..<received].contains(10) { break }  // the request line is complete
    }
    let text = String(decoding: buffer[..<received], as: UTF8.self)
    let response: ControlResponse
    if let request = parse(text) {
      let box = ResponseBox()
      let done = DispatchSemaphore(value: 0)
      Task {
        box.set(await handler(request))
        done.signal()
      }
      done.wait()
      response = box.get()
    } else {
      response = ControlResponse(status: 400, contentType: "text/plain", body: "bad request\n")
    }
    let body = Array(response.body.utf8)
    let head =
      "HTTP/1.0 \(response.status) \(reason(response.status))\r\nContent-Type: \(response.contentType)\r\n"
      + "Content-Length: \(body.count)\r\nConnection: close\r\n\r\n"
    let bytes = Array(head.utf8) + body
    var sent = 0
    while sent < bytes.count {
      let n = bytes.withUnsafeBytes {
        send(client, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL))
      }
      if n <= 0 { break }
      sent += n
    }
  }

  /// Parses "GET /path?a=b&c=d HTTP/1.x".
  public static func parse(_ text: String) -> ControlRequest? {
    guard let line = text.split(whereSeparator: \.isNewline).first else { return nil }
    let parts = line.split(separator: " ")
    guard parts.count >= 2, parts[0] == "GET" else { return nil }
    let target = parts[1]
    let pieces = target.split(separator: "?", maxSplits: 1)
    var query: [String: String] = [:]
    if pieces.count == 2 {
      for pair in pieces[1].split(separator: "&") {
        let kv = pair.split(separator: "=", maxSplits: 1)
        let key = String(kv[0]).removingPercentEncoding ?? String(kv[0])
        let raw = kv.count == 2 ? String(kv[1]).replacingOccurrences(of: "+", with: " ") : ""
        query[key] = raw.removingPercentEncoding ?? raw
      }
    }
    return ControlRequest(path: String(pieces[0]), query: query)
  }

  private static func reason(_ status: Int) -> String {
    switch status {
    case 200: return "OK"
    case 400: return "Bad Request"
    case 404: return "Not Found"
    case 503: return "Service Unavailable"
    default: return "Error"
    }
  }
}

/// Carries the handler's answer from its task to the accept thread.
private final class ResponseBox: @unchecked Sendable {
  private let lock = NSLock()
  private var response = ControlResponse(status: 500, contentType: "text/plain", body: "")
  func set(_ value: ControlResponse) { lock.withLock { response = value } }
  func get() -> ControlResponse { lock.withLock { response } }
}
