import CDatapath
import Glibc
import Packets

/// The UDP socket tunnel traffic arrives on and leaves from, bound to the configured
/// local address and port (127.0.0.1 in tests).
final class TunnelSocket: @unchecked Sendable {
  let descriptor: Int32
  let local: TunnelEndpoint

  init(local: TunnelEndpoint) throws(DatapathError) {
    let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    guard fd >= 0 else {
      throw DatapathError(
        .socket, "tunnel UDP socket", cause: SystemError(call: "socket", errno: errno))
    }
    var size: Int32 = 4 << 20
    _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, socklen_t(MemoryLayout<Int32>.size))
    _ = setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, socklen_t(MemoryLayout<Int32>.size))
    var address = TunnelSocket.socketAddress(local)
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    guard bound == 0 else {
      let code = errno
      close(fd)
      throw DatapathError(
        .socket, "bind tunnel socket to \(local)", cause: SystemError(call: "bind", errno: code))
    }
    var actual = sockaddr_in()
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &actual) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    descriptor = fd
    self.local = TunnelEndpoint(address: local.address, port: UInt16(bigEndian: actual.sin_port))
  }

  deinit {
    close(descriptor)
  }

  static func socketAddress(_ endpoint: TunnelEndpoint) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = endpoint.port.bigEndian
    address.sin_addr = in_addr(s_addr: endpoint.address.rawValue.bigEndian)
    return address
  }
}
