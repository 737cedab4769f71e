import Datapath
import Foundation
import Glibc
import MidgeTestSupport

/// A TCP transfer between two "VM" namespaces, on threads of its own: the receiver
/// counts the bytes and hashes them, so the test can check the stream arrived whole and
/// unchanged. Sockets are made inside the namespaces (`NetworkNamespace`); every call
/// has a timeout, so a broken path ends the transfer instead of hanging the test.
final class TCPTransfer: @unchecked Sendable {
  let sent: [UInt8]
  private let lock = NSLock()
  private var receivedCount = 0
  private var receivedHash: UInt64 = 0xCBF2_9CE4_8422_2325
  private var finished = false
  private var failure: String?
  private var listenerClosed = false

  init(size: Int) {
    var state: UInt64 = 0x9E37_79B9
    sent = (0..<size).map { _ in
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return UInt8(truncatingIfNeeded: state >> 33)
    }
  }

  static func hash(_ bytes: some Sequence<UInt8>, into value: inout UInt64) {
    for byte in bytes { value = (value ^ UInt64(byte)) &* 0x100_0000_01B3 }
  }

  /// Listens in `server` on `port`, connects from `client` to `address`, sends, and
  /// returns once the receiver saw the end of the stream or `timeout` passed.
  func run(
    server: String, client: String, address: String, port: UInt16, timeout: Duration
  ) async throws -> (bytes: Int, intact: Bool, error: String?) {
    // Close-on-exec, as every socket here: an agent restarted meanwhile must not inherit
    // one and keep its port in use.
    let listener = try NetworkNamespace.withNamespace(server) {
      socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    }
    guard listener >= 0 else { throw HarnessError("socket: \(errno)") }
    var one: Int32 = 1
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    var local = sockaddr_in()
    local.sin_family = sa_family_t(AF_INET)
    local.sin_port = port.bigEndian
    // A socket of the previous transfer on this port can linger for a moment (its last
    // ACK crosses the agents); wait for it rather than fail, at most two seconds.
    var bound = bindSocket(listener, &local)
    var bindError = bound ? 0 : errno
    for _ in 0..<40 where !bound && bindError == EADDRINUSE {
      try? await Task.sleep(for: .milliseconds(50))
      bound = bindSocket(listener, &local)
      bindError = bound ? 0 : errno
    }
    guard bound, listen(listener, 1) == 0 else {
      let error = bound ? errno : bindError
      close(listener)
      throw HarnessError("bind/listen in \(server) port \(port): errno \(error)")
    }
    let sender = try NetworkNamespace.withNamespace(client) {
      socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    }
    let seconds = Int(timeout.components.seconds)
    setTimeouts(listener, seconds)
    setTimeouts(sender, seconds)
    let receiver = Thread { [self] in
      // The sockets are closed before the transfer counts as finished, so the next
      // transfer on the same port never finds this listener still bound.
      let outcome: String? = {
        let connection = accept(listener, nil, nil)
        guard connection >= 0 else { return "accept: \(errno)" }
        defer { close(connection) }
        setTimeouts(connection, seconds)
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
          let count = buffer.withUnsafeMutableBytes {
            recv(connection, $0.baseAddress, $0.count, 0)
          }
          if count == 0 { return nil }
          if count < 0 { return "recv: \(errno)" }
          lock.withLock {
            receivedCount += count
            Self.hash(buffer[0..<count], into: &receivedHash)
          }
        }
      }()
      lock.withLock {
        close(listener)
        listenerClosed = true
      }
      finish(error: outcome)
    }
    receiver.start()
    let target = address
    let transmitter = Thread { [self] in
      defer { close(sender) }
      var remote = sockaddr_in()
      remote.sin_family = sa_family_t(AF_INET)
      remote.sin_port = port.bigEndian
      inet_pton(AF_INET, target, &remote.sin_addr)
      let connected = withUnsafePointer(to: &remote) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
          connect(sender, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
      }
      guard connected == 0 else { return finish(error: "connect: \(errno)") }
      var offset = 0
      while offset < sent.count {
        let count = sent.withUnsafeBytes {
          send(sender, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL))
        }
        guard count > 0 else { return finish(error: "send: \(errno)") }
        offset += count
      }
      shutdown(sender, Int32(SHUT_WR))
      var byte: UInt8 = 0
      _ = recv(sender, &byte, 1, 0)  // wait for the receiver to close
    }
    transmitter.start()
    let deadline = ContinuousClock.now + timeout + .seconds(2)
    while ContinuousClock.now < deadline && !lock.withLock({ finished }) {
      try? await Task.sleep(for: .milliseconds(20))
    }
    // A receiver still waiting in accept (the connection never came) is woken, and the
    // port is free again before this returns. Under the lock: the receiver closes the
    // descriptor under it too, so the shutdown never reaches a reused descriptor.
    lock.withLock {
      if !listenerClosed { _ = shutdown(listener, Int32(SHUT_RDWR)) }
    }
    let closeDeadline = ContinuousClock.now + .seconds(2)
    while ContinuousClock.now < closeDeadline && !lock.withLock({ listenerClosed }) {
      try? await Task.sleep(for: .milliseconds(10))
    }
    var expected: UInt64 = 0xCBF2_9CE4_8422_2325
    Self.hash(sent, into: &expected)
    return lock.withLock {
      (
        receivedCount, finished && receivedCount == sent.count && receivedHash == expected,
        finished ? failure : "timed out"
      )
    }
  }

  private func finish(error: String?) {
    lock.withLock {
      if !finished {
        finished = true
        failure = error
      }
    }
  }

  private func setTimeouts(_ fd: Int32, _ seconds: Int) {
    var value = timeval(tv_sec: seconds, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
  }

  private func bindSocket(_ fd: Int32, _ address: inout sockaddr_in) -> Bool {
    withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
      }
    }
  }
}
