import CDatapath
import Glibc
import Packets

/// The UDP socket tunnel traffic arrives on and leaves from, bound to the configured
/// local address and port (127.0.0.1 in tests).
final class TunnelSocket: @unchecked Sendable {
  let descriptor: Int32
  let local: TunnelEndpoint

  init(local: TunnelEndpoint) throws(DatapathError) {
    let fd: Int32
    do throws(SystemCallError) {
      fd = try Syscall.socket(domain: AF_INET, type: Int32(SOCK_DGRAM.rawValue), protocol: 0)
    } catch {
      throw DatapathError(.socket, "tunnel UDP socket", cause: error)
    }
    // Best effort: the buffer sizes are a tuning.
    let size: Int32 = 4 << 20
    try? Syscall.setOption(
      fd, level: SOL_SOCKET, option: SO_RCVBUFFORCE, to: size, name: "SO_RCVBUFFORCE")
    try? Syscall.setOption(
      fd, level: SOL_SOCKET, option: SO_SNDBUFFORCE, to: size, name: "SO_SNDBUFFORCE")
    var actual = sockaddr_in()
    do throws(SystemCallError) {
      try Syscall.bind(fd, to: TunnelSocket.socketAddress(local))
    } catch {
      Syscall.closeOwned(fd)
      throw DatapathError(.socket, "bind tunnel socket to \(local)", cause: error)
    }
    do throws(SystemCallError) {
      // The port the kernel picked when port 0 was asked for.
      try Syscall.socketName(fd, into: &actual)
    } catch {
      Syscall.closeOwned(fd)
      throw DatapathError(.socket, "bound address of the tunnel socket", cause: error)
    }
    descriptor = fd
    self.local = TunnelEndpoint(address: local.address, port: UInt16(bigEndian: actual.sin_port))
  }

  deinit {
    Syscall.closeOwned(descriptor)
  }

  static func socketAddress(_ endpoint: TunnelEndpoint) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = endpoint.port.bigEndian
    address.sin_addr = in_addr(s_addr: endpoint.address.rawValue.bigEndian)
    return address
  }
}
