import CDatapath
import Glibc
import Packets

/// A packet loop's outgoing packets for one batch, sent with one sendmmsg per
/// destination at the end of the batch (or earlier when full). Copies each frame into
/// an arena behind its virtio_net_hdr (local ports) or VXLAN header (tunnel), so the
/// receive buffers can be reused at once.
struct TransmitQueue: PacketOutput {
  /// Where an entry goes.
  enum Destination: Hashable {
    case port(UInt32)
    case tunnel(TunnelEndpoint)
  }

  struct Entry {
    var destination: Destination
    var offset: Int
    var length: Int
  }

  /// The loop's view of the local ports it can send to.
  var ports: [UInt32: PacketSocket] = [:]
  /// The tunnel socket, when tunnels are configured.
  var tunnel: TunnelSocket?
  /// Frames sent and frames that could not be.
  var sent: UInt64 = 0
  var failed: UInt64 = 0

  private let arenaSize: Int
  private let arena: UnsafeMutableRawPointer
  private var used = 0
  private var entries: [Entry] = []
  private let maximumEntries: Int
  private let batch: MessageBatch

  init(arenaSize: Int = 4 << 20, maximumEntries: Int = 256) {
    self.arenaSize = arenaSize
    self.maximumEntries = maximumEntries
    arena = .allocate(byteCount: arenaSize, alignment: 64)
    batch = MessageBatch(capacity: maximumEntries, bufferSize: 0)
    entries.reserveCapacity(maximumEntries)
  }

  func deallocate() {
    arena.deallocate()
    batch.deallocate()
  }

  mutating func output(port: UInt32, frame: UnsafeRawBufferPointer, offload: VirtioNetHeader) {
    guard ports[port] != nil else {
      failed &+= 1
      return
    }
    guard let offset = reserve(VirtioNetHeader.size + frame.count) else { return }
    offload.write(to: UnsafeMutableRawBufferPointer(start: arena + offset, count: 10))
    copy(frame, to: offset + VirtioNetHeader.size)
    entries.append(
      Entry(destination: .port(port), offset: offset, length: VirtioNetHeader.size + frame.count))
  }

  mutating func encapsulate(
    tunnelKey: UInt32, remote: TunnelEndpoint, frame: UnsafeRawBufferPointer,
    offload: VirtioNetHeader
  ) {
    guard tunnel != nil else {
      failed &+= 1
      return
    }
    // A GSO super-packet is cut into ordinary segments, each its own datagram.
    if offload.isGSO {
      guard let segmenter = TCPSegmenter(frame: frame, offload: offload) else {
        failed &+= 1
        return
      }
      for index in 0..<segmenter.segmentCount {
        let length = segmenter.segmentLength(index)
        guard let offset = reserve(VXLANHeader.length + length) else { return }
        writeTunnelHeader(at: offset, tunnelKey: tunnelKey)
        segmenter.writeSegment(
          index, of: frame,
          to: UnsafeMutableRawBufferPointer(
            start: arena + offset + VXLANHeader.length, count: length))
        entries.append(
          Entry(destination: .tunnel(remote), offset: offset, length: VXLANHeader.length + length))
      }
      return
    }
    guard frame.count <= 65_000 else {
      failed &+= 1
      return
    }
    guard let offset = reserve(VXLANHeader.length + frame.count) else { return }
    writeTunnelHeader(at: offset, tunnelKey: tunnelKey)
    copy(frame, to: offset + VXLANHeader.length)
    entries.append(
      Entry(destination: .tunnel(remote), offset: offset, length: VXLANHeader.length + frame.count))
  }

  /// Writes the 8-byte VXLAN-format header carrying `tunnelKey` at `offset`.
  private func writeTunnelHeader(at offset: Int, tunnelKey: UInt32) {
    let header = UnsafeMutableRawBufferPointer(start: arena + offset, count: 8)
    header[0] = VXLANHeader.validVNIFlag
    header[1] = 0
    header[2] = 0
    header[3] = 0
    let vni = (tunnelKey & VXLANHeader.maximumVNI) << 8
    header[4] = UInt8(truncatingIfNeeded: vni >> 24)
    header[5] = UInt8(truncatingIfNeeded: vni >> 16)
    header[6] = UInt8(truncatingIfNeeded: vni >> 8)
    header[7] = 0
  }

  /// Sends everything queued, one sendmmsg per destination run.
  mutating func flush() {
    var start = 0
    while start < entries.count {
      let destination = entries[start].destination
      var end = start + 1
      while end < entries.count && entries[end].destination == destination { end += 1 }
      send(entries[start..<end], to: destination)
      start = end
    }
    entries.removeAll(keepingCapacity: true)
    used = 0
  }

  private mutating func reserve(_ length: Int) -> Int? {
    if used + length > arenaSize || entries.count >= maximumEntries { flush() }
    guard length <= arenaSize else {
      failed &+= 1
      return nil
    }
    let offset = used
    used += (length + 63) & ~63
    return offset
  }

  private func copy(_ frame: UnsafeRawBufferPointer, to offset: Int) {
    guard let base = frame.baseAddress, frame.count > 0 else { return }
    (arena + offset).copyMemory(from: base, byteCount: frame.count)
  }

  private mutating func send(_ run: ArraySlice<Entry>, to destination: Destination) {
    let descriptor: Int32
    var remote: sockaddr_in?
    switch destination {
    case .port(let port):
      guard let socket = ports[port], socket.gate.isOpen else {
        failed &+= UInt64(run.count)
        return
      }
      descriptor = socket.descriptor
    case .tunnel(let endpoint):
      guard let tunnel else {
        failed &+= UInt64(run.count)
        return
      }
      descriptor = tunnel.descriptor
      remote = TunnelSocket.socketAddress(endpoint)
    }
    var index = 0
    for entry in run {
      batch.vectors[index] = iovec(iov_base: arena + entry.offset, iov_len: entry.length)
      batch.headers[index].msg_hdr = msghdr()
      batch.headers[index].msg_hdr.msg_iov = batch.vectors + index
      batch.headers[index].msg_hdr.msg_iovlen = 1
      if let remote {
        UnsafeMutableRawPointer(batch.names + index).storeBytes(of: remote, as: sockaddr_in.self)
        batch.headers[index].msg_hdr.msg_name = UnsafeMutableRawPointer(batch.names + index)
        batch.headers[index].msg_hdr.msg_namelen = socklen_t(MemoryLayout<sockaddr_in>.size)
      }
      index += 1
    }
    var done = 0
    var refused = 0
    var attempts = 0
    while done < index && attempts < 4 {
      attempts += 1
      do throws(SystemCallError) {
        done += try Syscall.sendmmsg(
          descriptor, batch.headers + done, index - done, flags: Int32(MSG_DONTWAIT))
      } catch {
        // A full socket buffer (EAGAIN): try again, a few times. Anything else is a
        // message the interface refused (gone, down, too big): skip it, keep the rest.
        if !error.wouldBlock {
          done += 1
          refused += 1
        }
      }
    }
    sent &+= UInt64(done - refused)
    failed &+= UInt64(index - done + refused)
  }
}
