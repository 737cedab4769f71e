import Addresses
import CommandSupport
import Glibc
import Packets

/// Writes frames into an interface with AF_PACKET, as a VM would send them. The socket
/// is bound to the interface with protocol 0, so it receives nothing.
final class FrameInjector: Sendable {
  let descriptor: Int32

  init(interface: String) throws {
    descriptor = socket(AF_PACKET, Int32(SOCK_RAW.rawValue), 0)
    guard descriptor >= 0 else { throw CommandError("AF_PACKET socket: errno \(errno)") }
    // struct sockaddr_ll, 20 bytes: family, protocol (0), ifindex; the rest zero.
    var address = [UInt8](repeating: 0, count: 20)
    address.withUnsafeMutableBytes { bytes in
      bytes.storeBytes(of: UInt16(AF_PACKET), toByteOffset: 0, as: UInt16.self)
      bytes.storeBytes(of: Int32(if_nametoindex(interface)), toByteOffset: 4, as: Int32.self)
    }
    let bound = address.withUnsafeBytes {
      bind(descriptor, $0.baseAddress!.assumingMemoryBound(to: sockaddr.self), 20)
    }
    guard bound == 0 else {
      close(descriptor)
      throw CommandError("cannot bind a packet socket to \(interface): errno \(errno)")
    }
    var size: Int32 = 4 << 20
    setsockopt(descriptor, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
  }

  deinit { close(descriptor) }

  /// Sends `frame`; false when the kernel refused it (its queue is full, say).
  @discardableResult
  func send(_ frame: [UInt8]) -> Bool {
    frame.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, 0) == $0.count }
  }
}

/// A 64-byte-class UDP frame from `source` (MAC, IP, port) to `destination`.
func benchFrame(
  sourceMAC: MACAddress, destinationMAC: MACAddress, source: IPv4Address,
  destination: IPv4Address, sourcePort: UInt16, destinationPort: UInt16
) -> [UInt8] {
  (try? PacketBuilder.udp(
    ethernet: EthernetHeader(destination: destinationMAC, source: sourceMAC),
    ipv4: IPv4Header(source: source, destination: destination),
    sourcePort: sourcePort, destinationPort: destinationPort,
    payload: Array(repeating: 0x5A, count: 18))) ?? []
}
