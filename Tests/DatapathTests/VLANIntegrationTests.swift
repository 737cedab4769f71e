import Addresses
import Datapath
import Foundation
import Logging
import MidgeTestSupport
import Packets
import Testing

/// A VLAN push and a TTL set on real veths, judged by the receiving kernel: it parses
/// the 802.1Q header the datapath wrote and reports it beside the frame (PACKET_AUXDATA;
/// a kernel always takes a received tag out of the frame before packet sockets see it),
/// and the IPv4 header must carry the new TTL with a checksum that verifies.
///
/// Not a VLAN interface in the VM: this kernel may lack the 8021q module, and the way
/// back (a tagged frame from a VM) is not what is tested here.
@Suite(
  "VLAN push and TTL set between network namespaces", .serialized,
  .requires(Requirement.network))
struct VLANIntegrationTests {
  private static let logger = Logger(label: "midge.datapath.test")

  @Test("a flow that sets the TTL and pushes VLAN 100 puts a valid tag on the wire")
  func pushOnTheWire() async throws {
    let fixture = NetworkFixture()
    defer { fixture.cleanUp() }
    let a = try fixture.addVM(IPv4Address(10, 199, 6, 1))
    let b = try fixture.addVM(IPv4Address(10, 199, 6, 2))
    let mac = "02:00:00:00:06:02"
    for step in [
      ["ip", "-n", b.namespace, "link", "set", "eth0", "address", mac],
      // One way only: no ARP, so nothing depends on the way back.
      ["ip", "-n", a.namespace, "neigh", "add", "\(b.address)", "lladdr", mac, "dev", "eth0"],
    ] {
      let result = shell(step)
      try #require(result.status == 0, "\(step.joined(separator: " ")): \(result.output)")
    }
    let installer = MissInstaller(tag: FlowTagHash(6)) { port in
      port == 1
        ? [.setTTL(9), .pushVLAN(VLANTag(id: 100, priority: 3)), .output(port: 2)]
        : [.output(port: 1)]
    }
    let datapath = try DatapathSwitch(logger: Self.logger, onMiss: { installer.handle($0) })
    installer.datapath.withLock { $0 = datapath }
    defer { datapath.stop() }
    try datapath.attach(interface: a.rootInterface, port: 1)
    try datapath.attach(interface: b.rootInterface, port: 2)

    let capture = try TagCapture(namespace: b.namespace)
    let sender = try NamespacedUDPSocket(namespace: a.namespace, address: a.address, port: 0)
    var seen: [(frame: [UInt8], tci: UInt16?, tpid: UInt16?)] = []
    for round in 0..<40 where seen.count < 3 {
      sender.send(Array("tagged \(round)".utf8), to: b.address, port: 5_006)
      try await Task.sleep(for: .milliseconds(50))
      seen += capture.drain().filter { frame, _, _ in
        (try? PacketParser.parse(frame))?.udp?.destinationPort == 5_006
      }
    }
    #expect(seen.count >= 3)
    for (frame, tci, tpid) in seen {
      #expect(tci == VLANTag(id: 100, priority: 3).tci)
      #expect(tpid == 0x8100)
      let packet = try PacketParser.parse(frame)
      #expect(packet.ipv4?.ttl == 9)
      #expect(packet.isIPv4ChecksumValid(in: frame) == true)
    }
  }
}

/// An AF_PACKET socket in a namespace that reads every frame arriving there with the
/// VLAN tag the kernel took out of it (PACKET_AUXDATA), non-blocking.
private struct TagCapture: ~Copyable {
  // From linux/if_packet.h.
  static let packetAuxData: Int32 = 8
  static let statusVLANValid: UInt32 = 1 << 4
  static let statusVLANTPIDValid: UInt32 = 1 << 6

  /// struct tpacket_auxdata.
  struct AuxData {
    var status: UInt32 = 0
    var length: UInt32 = 0
    var snapLength: UInt32 = 0
    var mac: UInt16 = 0
    var net: UInt16 = 0
    var vlanTCI: UInt16 = 0
    var vlanTPID: UInt16 = 0
  }

  let descriptor: Int32

  init(namespace: String) throws {
    let ethernetAll = Int32(UInt16(3).bigEndian)  // htons(ETH_P_ALL)
    let fd = try NetworkNamespace.withNamespace(namespace) {
      socket(AF_PACKET, Int32(SOCK_RAW.rawValue), ethernetAll)
    }
    guard fd >= 0 else { throw FixtureError(message: "capture socket in \(namespace): \(errno)") }
    var on: Int32 = 1
    guard
      setsockopt(
        fd, Int32(SOL_PACKET), TagCapture.packetAuxData, &on, socklen_t(MemoryLayout<Int32>.size))
        == 0
    else {
      close(fd)
      throw FixtureError(message: "PACKET_AUXDATA in \(namespace): \(errno)")
    }
    descriptor = fd
  }

  deinit { close(descriptor) }

  /// Every frame queued so far, with its tag (nil when it had none).
  func drain() -> [(frame: [UInt8], tci: UInt16?, tpid: UInt16?)] {
    var result: [(frame: [UInt8], tci: UInt16?, tpid: UInt16?)] = []
    var buffer = [UInt8](repeating: 0, count: 65_536)
    var control = [UInt8](repeating: 0, count: 256)
    for _ in 0..<10_000 {
      var aux: AuxData?
      let count = buffer.withUnsafeMutableBytes { data in
        control.withUnsafeMutableBytes { control in
          var vector = iovec(iov_base: data.baseAddress, iov_len: data.count)
          return withUnsafeMutablePointer(to: &vector) { vector in
            var message = msghdr()
            message.msg_iov = vector
            message.msg_iovlen = 1
            message.msg_control = control.baseAddress
            message.msg_controllen = control.count
            let count = recvmsg(descriptor, &message, Int32(MSG_DONTWAIT))
            guard count > 0 else { return count }
            // The first control message is SOL_PACKET/PACKET_AUXDATA when present:
            // a cmsghdr (length, level, type) then the struct, 8-byte aligned.
            let header = MemoryLayout<Int>.size + 2 * MemoryLayout<Int32>.size
            if message.msg_controllen >= header + MemoryLayout<AuxData>.size {
              let level = control.load(fromByteOffset: MemoryLayout<Int>.size, as: Int32.self)
              let type = control.load(fromByteOffset: MemoryLayout<Int>.size + 4, as: Int32.self)
              if level == Int32(SOL_PACKET) && type == TagCapture.packetAuxData {
                aux = control.loadUnaligned(fromByteOffset: header, as: AuxData.self)
              }
            }
            return count
          }
        }
      }
      guard count > 0 else { break }
      let tagged = aux.map { $0.status & TagCapture.statusVLANValid != 0 } ?? false
      let tpidValid = aux.map { $0.status & TagCapture.statusVLANTPIDValid != 0 } ?? false
      result.append(
        (
          Array(buffer[0..<count]), tagged ? aux?.vlanTCI : nil,
          tagged && tpidValid ? aux?.vlanTPID : nil
        ))
    }
    return result
  }
}
