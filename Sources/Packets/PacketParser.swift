// MARK: - Design: the packet parser
//
// What is parsed. One Ethernet II frame: the destination/source MACs, any number of
// 802.1Q/802.1ad tags (the outermost is kept, inner ones skipped: QinQ is tolerated, not
// modelled), then by EtherType either ARP (IPv4 over Ethernet only) or IPv4 (options
// skipped, fragments recognised), then for IPv4 datagrams that are not later fragments
// TCP, UDP or ICMP. Anything else — IPv6, LLDP, an unknown IP protocol — stops the
// parse at the last layer understood; that is not an error, just a shorter packet.
// The VXLAN tunnel header is not looked for here: tunnel traffic arrives on the agent's
// UDP socket and is unwrapped with `VXLANHeader.decapsulate`, after which the inner
// frame is parsed like any other.
//
// Never crash, partial match. Frames come from virtual machines and from the underlay;
// any of them may be truncated, malformed or crafted. Parsing therefore never traps:
// every read is bounds-checked (see UnsafeRawBufferPointer+BigEndian.swift), lengths
// taken from headers are checked against the bytes present before they are used, there
// are no force unwraps and no arithmetic that can overflow on input. Failure is graded:
//   - a frame too short for an Ethernet header (or its VLAN tags) cannot be switched or
//     matched at all, so `parse` throws a typed `PacketError`;
//   - above L2, a problem ends the parse at the layer that failed and is recorded in
//     `ParsedPacket.issue`. An IPv4 packet with a truncated TCP header still yields its
//     L2 and L3 fields, with the transport layer absent. A bridge can still forward it,
//     a rule chain can still drop it, and the flow match says exactly what was seen.
// Lengths announced by headers bound what is parsed: an IPv4 total length shorter than
// the frame means the rest is Ethernet padding and is ignored; a longer one is cut to
// the frame (checksums then cannot verify, but the headers are still read).
//
// Performance intent. The parser runs once per packet on the datapath's fast path
// (flow-table misses and hits alike, to compute the key). It must not allocate: it reads
// from borrowed bytes (`UnsafeRawBufferPointer`) into `ParsedPacket`, a plain struct of
// header values and offsets with no references, and errors are thrown with typed throws
// (`throws(PacketError)`) carrying static strings, so no existential box is created.
// Nothing is copied out of the frame; later stages (rewriters, checksum verification,
// decapsulation) use the offsets to reach the bytes in place.

/// Parses frames into `ParsedPacket`s; see the design notes at the top of this file.
public enum PacketParser {
  /// Parses one Ethernet frame from borrowed bytes without allocating.
  ///
  /// Throws only when the Ethernet header itself is unusable; problems in higher layers
  /// give a partial result with `issue` set.
  public static func parse(_ frame: UnsafeRawBufferPointer) throws(PacketError) -> ParsedPacket {
    let ethernet = try EthernetHeader.parse(frame)
    var packet = ParsedPacket(ethernet: ethernet, frameLength: frame.count)
    switch ethernet.etherType {
    case .arp:
      do {
        packet.arp = try ARPPacket.parse(frame, at: packet.networkOffset)
      } catch {
        packet.issue = error.code
      }
    case .ipv4:
      parseIPv4(frame, into: &packet)
    default:
      break
    }
    return packet
  }

  /// Parses a frame held in an array (a convenience for tests and tools).
  public static func parse(_ frame: [UInt8]) throws(PacketError) -> ParsedPacket {
    let result: Result<ParsedPacket, PacketError> = frame.withUnsafeBytes { bytes in
      do throws(PacketError) {
        return .success(try parse(bytes))
      } catch {
        return .failure(error)
      }
    }
    return try result.get()
  }

  private static func parseIPv4(_ frame: UnsafeRawBufferPointer, into packet: inout ParsedPacket) {
    let offset = packet.networkOffset
    let header: IPv4Header
    do {
      header = try IPv4Header.parse(frame, at: offset)
    } catch {
      packet.issue = error.code
      return
    }
    packet.ipv4 = header
    // IPv4Header.parse guarantees headerLength bytes are present and that totalLength
    // covers them, so offset + headerLength <= end <= frame.count.
    let end = min(offset + Int(header.totalLength), frame.count)
    packet.networkEnd = end
    let transportOffset = offset + header.headerLength
    packet.transportOffset = transportOffset
    guard header.fragmentType != .later else { return }
    // Rebase on the datagram's end so padding after it is never taken for a header,
    // while offsets stay relative to the start of the frame.
    let datagram = UnsafeRawBufferPointer(rebasing: frame[0..<end])
    do {
      switch header.ipProtocol {
      case .tcp:
        let tcp = try TCPHeader.parse(datagram, at: transportOffset)
        packet.transport = .tcp(tcp)
        packet.payloadOffset = transportOffset + tcp.headerLength
      case .udp:
        let udp = try UDPHeader.parse(datagram, at: transportOffset)
        packet.transport = .udp(udp)
        packet.payloadOffset = transportOffset + UDPHeader.length
      case .icmp:
        let icmp = try ICMPHeader.parse(datagram, at: transportOffset)
        packet.transport = .icmp(icmp)
        packet.payloadOffset = transportOffset + ICMPHeader.length
      default:
        break
      }
    } catch {
      packet.issue = error.code
    }
  }
}
