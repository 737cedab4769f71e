import Datapath
import Glibc
import MidgeTestSupport

/// A blocking TCP client for hostile tests: raw bytes in, status and text out.
enum RawClient {
  struct Answer {
    var status: Int?
    var text: String
  }

  /// A connection to 127.0.0.1:`port`, of the network namespace `namespace` when given
  /// (the socket is made inside it, then used from here).
  static func connect(port: UInt16, namespace: String? = nil) throws -> Int32 {
    let fd =
      try namespace.map { name in
        try NetworkNamespace.withNamespace(name) { socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0) }
      } ?? socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw HarnessError("socket: \(errno)") }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    let connected = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    guard connected == 0 else {
      close(fd)
      throw HarnessError("connect to \(port): \(errno)")
    }
    return fd
  }

  /// Sends `request` and reads until the server closes (at most `timeout` seconds).
  static func exchange(
    port: UInt16, namespace: String? = nil, _ request: String, timeout: Int = 3
  ) throws -> Answer {
    let fd = try connect(port: port, namespace: namespace)
    defer { close(fd) }
    let bytes = Array(request.utf8)
    _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    let text = readAll(fd, timeout: timeout)
    let status = text.split(separator: " ", maxSplits: 2).dropFirst().first.flatMap { Int($0) }
    return Answer(status: status, text: text)
  }

  /// Everything the peer sends until it closes, or until `timeout` seconds pass.
  static func readAll(_ fd: Int32, timeout: Int) -> String {
    var limit = timeval(tv_sec: timeout, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
    var response: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65_536)
    for _ in 0..<1_000 {
      let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
      guard count > 0 else { break }
      response += buffer[0..<count]
    }
    return String(decoding: response, as: UTF8.self)
  }

  /// True when the peer has closed the connection (a read returns end of file at once).
  static func isClosed(_ fd: Int32) -> Bool {
    var byte: UInt8 = 0
    let count = recv(fd, &byte, 1, Int32(MSG_DONTWAIT))
    return count == 0 || (count < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
  }
}
