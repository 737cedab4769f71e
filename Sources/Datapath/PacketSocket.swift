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
    let index: Int32
    do throws(SystemCallError) {
      index = Int32(bitPattern: try Syscall.interfaceIndex(interface))
    } catch {
      throw DatapathError(.interfaceNotFound, "no interface named \(interface)", cause: error)
    }
    interfaceIndex = index
    // Protocol 0 until bound, so no other interface's frames are queued meanwhile.
    let fd: Int32
    do throws(SystemCallError) {
      fd = try Syscall.socket(domain: AF_PACKET, type: Int32(SOCK_RAW.rawValue), protocol: 0)
    } catch {
      throw DatapathError(.socket, "AF_PACKET socket for \(interface)", cause: error)
    }
    do throws(DatapathError) {
      try PacketSocket.configure(fd, interface: interface, index: index)
    } catch {
      Syscall.closeOwned(fd)
      throw error
    }
    // Assigned last: from here on deinit owns the descriptor.
    descriptor = fd
  }

  deinit {
    Syscall.closeOwned(descriptor)
  }

  /// The interface's IFF_UP and IFF_RUNNING state; throws when it cannot be read, which
  /// means the interface is gone (ENODEV).
  func linkState() throws(SystemCallError) -> (up: Bool, running: Bool) {
    let flags = try Syscall.interfaceFlags(descriptor, name: interface)
    return (flags & Int32(IFF_UP) != 0, flags & Int32(IFF_RUNNING) != 0)
  }

  /// Sets the socket up: the virtio_net_hdr, the buffers, the binding to the interface,
  /// promiscuous mode.
  private static func configure(_ fd: Int32, interface: String, index: Int32)
    throws(DatapathError)
  {
    func set(_ level: Int32, _ option: Int32, _ value: Int32, _ name: String)
      throws(SystemCallError)
    {
      try Syscall.setOption(fd, level: level, option: option, to: value, name: name)
    }
    do throws(SystemCallError) {
      try set(SOL_PACKET, PACKET_VNET_HDR, 1, "PACKET_VNET_HDR")
    } catch {
      throw DatapathError(.socket, "PACKET_VNET_HDR on \(interface)", cause: error)
    }
    // Best effort: older kernels lack the first; the buffer sizes are a tuning.
    try? set(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1, "PACKET_IGNORE_OUTGOING")
    try? set(SOL_SOCKET, SO_RCVBUFFORCE, 4 << 20, "SO_RCVBUFFORCE")
    try? set(SOL_SOCKET, SO_SNDBUFFORCE, 4 << 20, "SO_SNDBUFFORCE")
    var address = sockaddr_ll()
    address.sll_family = UInt16(AF_PACKET)
    address.sll_protocol = UInt16(ETH_P_ALL).bigEndian
    address.sll_ifindex = index
    do throws(SystemCallError) {
      try Syscall.bind(fd, to: address)
    } catch {
      throw DatapathError(.socket, "bind to \(interface)", cause: error)
    }
    var membership = packet_mreq()
    membership.mr_ifindex = index
    membership.mr_type = UInt16(PACKET_MR_PROMISC)
    do throws(SystemCallError) {
      try Syscall.setOption(
        fd, level: SOL_PACKET, option: PACKET_ADD_MEMBERSHIP, to: membership,
        name: "PACKET_ADD_MEMBERSHIP")
    } catch {
      throw DatapathError(.socket, "promiscuous mode on \(interface)", cause: error)
    }
  }
}
