import CDatapath
import Glibc

/// An AF_PACKET socket bound to one interface: promiscuous, with PACKET_VNET_HDR so each
/// frame carries its offload state, and without our own transmissions looped back.
/// Closed when the last reference goes, so a loop still holding it never writes to a
/// recycled descriptor.
final class PacketSocket: @unchecked Sendable {
  let descriptor: Int32
  let interface: String
  let interfaceIndex: Int32
  /// Whether the port may carry frames now (a gateway port's lease; always open for
  /// others).
  let gate = PortGate()

  init(interface: String) throws(DatapathError) {
    self.interface = interface
    let index = if_nametoindex(interface)
    guard index != 0 else {
      throw DatapathError(.interfaceNotFound, "no interface named \(interface)")
    }
    interfaceIndex = Int32(index)
    // Protocol 0 until bound, so no other interface's frames are queued meanwhile.
    let fd = socket(AF_PACKET, Int32(SOCK_RAW.rawValue), 0)
    guard fd >= 0 else {
      throw DatapathError(
        .socket, "AF_PACKET socket for \(interface)",
        cause: SystemError(call: "socket", errno: errno))
    }
    descriptor = fd
    do throws(DatapathError) {
      try setOption(SOL_PACKET, PACKET_VNET_HDR, 1, "PACKET_VNET_HDR")
      try? setOption(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1, "PACKET_IGNORE_OUTGOING")
      try? setOption(SOL_SOCKET, SO_RCVBUFFORCE, 4 << 20, "SO_RCVBUFFORCE")
      try? setOption(SOL_SOCKET, SO_SNDBUFFORCE, 4 << 20, "SO_SNDBUFFORCE")
      var address = sockaddr_ll()
      address.sll_family = UInt16(AF_PACKET)
      address.sll_protocol = midge_dp_eth_p_all_be()
      address.sll_ifindex = interfaceIndex
      let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
          bind(fd, $0, socklen_t(MemoryLayout<sockaddr_ll>.size))
        }
      }
      guard bound == 0 else {
        throw DatapathError(
          .socket, "bind to \(interface)", cause: SystemError(call: "bind", errno: errno))
      }
      var membership = packet_mreq()
      membership.mr_ifindex = interfaceIndex
      membership.mr_type = UInt16(PACKET_MR_PROMISC)
      let promiscuous = setsockopt(
        fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &membership,
        socklen_t(MemoryLayout<packet_mreq>.size))
      guard promiscuous == 0 else {
        throw DatapathError(
          .socket, "promiscuous mode on \(interface)",
          cause: SystemError(call: "setsockopt(PACKET_ADD_MEMBERSHIP)", errno: errno))
      }
    } catch {
      close(fd)
      throw error
    }
  }

  deinit {
    close(descriptor)
  }

  /// The interface's IFF_UP and IFF_RUNNING state; nil when it no longer exists.
  func linkState() -> (up: Bool, running: Bool)? {
    var flags: Int32 = 0
    let result = interface.withCString { midge_dp_interface_flags(descriptor, $0, &flags) }
    guard result == 0 else { return nil }
    return (flags & Int32(IFF_UP) != 0, flags & Int32(IFF_RUNNING) != 0)
  }

  private func setOption(
    _ level: Int32, _ name: Int32, _ value: Int32, _ label: String
  ) throws(DatapathError) {
    var value = value
    guard setsockopt(descriptor, level, name, &value, socklen_t(MemoryLayout<Int32>.size)) == 0
    else {
      throw DatapathError(
        .socket, "\(label) on \(interface)",
        cause: SystemError(call: "setsockopt(\(label))", errno: errno))
    }
  }
}
