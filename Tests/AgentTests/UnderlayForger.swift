import Foundation
import Glibc
import MidgeTestSupport

/// Datagrams sent to an agent's tunnel port as an attacker on the underlay would: from an
/// ordinary socket (an address that is no host's endpoint), or with a forged source (a
/// peer's own endpoint, through a raw socket: what a host on the same segment could do).
enum UnderlayForger {
  /// The VXLAN datagram payload for `frame` on tunnel key `vni`.
  static func vxlan(vni: UInt32, _ frame: [UInt8]) -> [UInt8] {
    [
      0x08, 0, 0, 0, UInt8(truncatingIfNeeded: vni >> 16), UInt8(truncatingIfNeeded: vni >> 8),
      UInt8(truncatingIfNeeded: vni), 0,
    ] + frame
  }

  /// Sends `payload` to 127.0.0.1:`port` from an ordinary UDP socket (an ephemeral port).
  static func send(_ payload: [UInt8], to port: UInt16) throws {
    let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    guard fd >= 0 else { throw HarnessError("socket: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    try send(fd, payload, to: port)
  }

  /// `bytes` through socket `fd` to 127.0.0.1:`port`.
  static func send(_ fd: Int32, _ bytes: [UInt8], to port: UInt16) throws {
    var address = loopback(port)
    let sent = withUnsafePointer(to: &address) { pointer in
      pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        sendto(fd, bytes, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    guard sent == bytes.count else {
      throw HarnessError("sendto: \(String(cString: strerror(errno)))")
    }
  }

  /// Sends `payload` to 127.0.0.1:`port` as if from 127.0.0.1:`sourcePort` (a raw socket
  /// writing its own IPv4 and UDP headers).
  static func send(_ payload: [UInt8], to port: UInt16, spoofing sourcePort: UInt16) throws {
    let fd = socket(AF_INET, Int32(SOCK_RAW.rawValue), Int32(IPPROTO_RAW))
    guard fd >= 0 else { throw HarnessError("raw socket: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    let udpLength = 8 + payload.count
    let total = 20 + udpLength
    var packet: [UInt8] = [
      0x45, 0, UInt8(total >> 8), UInt8(total & 0xFF), 0, 0, 0x40, 0, 64, 17, 0, 0,
      127, 0, 0, 1, 127, 0, 0, 1,
    ]
    var sum: UInt32 = 0
    for index in stride(from: 0, to: 20, by: 2) {
      sum += UInt32(packet[index]) << 8 | UInt32(packet[index + 1])
    }
    while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
    let checksum = ~UInt16(sum)
    packet[10] = UInt8(checksum >> 8)
    packet[11] = UInt8(checksum & 0xFF)
    packet += [
      UInt8(sourcePort >> 8), UInt8(sourcePort & 0xFF), UInt8(port >> 8), UInt8(port & 0xFF),
      UInt8(udpLength >> 8), UInt8(udpLength & 0xFF), 0, 0,
    ]
    packet += payload
    try send(fd, packet, to: port)
  }

  static func loopback(_ port: UInt16) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    return address
  }
}
