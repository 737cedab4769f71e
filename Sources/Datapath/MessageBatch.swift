import CDatapath
import Glibc

/// Preallocated buffers, iovecs, addresses and `mmsghdr`s for one recvmmsg/sendmmsg
/// batch. Owned by one packet loop; freed with `deallocate()`.
///
/// Each message's slot is `headroom` free bytes and then its `bufferSize`-byte receive
/// buffer, so a received frame can grow at its front in place (`FrameBuffer`).
struct MessageBatch {
  let capacity: Int
  let bufferSize: Int
  let headroom: Int
  let storage: UnsafeMutableRawPointer
  /// Two per message: a header (VXLAN) and the frame, or a single buffer.
  let vectors: UnsafeMutablePointer<iovec>
  let headers: UnsafeMutablePointer<midge_dp_mmsghdr>
  let names: UnsafeMutablePointer<sockaddr_storage>

  init(capacity: Int, bufferSize: Int, headroom: Int = 0) {
    self.capacity = capacity
    self.bufferSize = bufferSize
    self.headroom = headroom
    storage = .allocate(byteCount: capacity * (headroom + bufferSize), alignment: 64)
    vectors = .allocate(capacity: capacity * 2)
    vectors.initialize(repeating: iovec(), count: capacity * 2)
    headers = .allocate(capacity: capacity)
    headers.initialize(repeating: midge_dp_mmsghdr(), count: capacity)
    names = .allocate(capacity: capacity)
    names.initialize(repeating: sockaddr_storage(), count: capacity)
  }

  func deallocate() {
    storage.deallocate()
    vectors.deallocate()
    headers.deallocate()
    names.deallocate()
  }

  /// The i-th receive buffer (where recvmmsg writes).
  func buffer(_ index: Int) -> UnsafeMutableRawPointer {
    slot(index) + headroom
  }

  /// The i-th slot: its headroom, then its receive buffer.
  func slot(_ index: Int) -> UnsafeMutableRawPointer {
    storage + index * (headroom + bufferSize)
  }

  /// Points every message at its whole buffer, ready for recvmmsg.
  func prepareReceive() {
    for index in 0..<capacity {
      vectors[index] = iovec(iov_base: buffer(index), iov_len: bufferSize)
      headers[index].msg_hdr = msghdr()
      headers[index].msg_hdr.msg_iov = vectors + index
      headers[index].msg_hdr.msg_iovlen = 1
      headers[index].msg_hdr.msg_name = UnsafeMutableRawPointer(names + index)
      headers[index].msg_hdr.msg_namelen = socklen_t(MemoryLayout<sockaddr_storage>.size)
      headers[index].msg_len = 0
    }
  }

  /// Receives up to `capacity` messages without blocking; 0 when none are queued, -1 with
  /// errno on error.
  func receive(on descriptor: Int32) -> Int {
    for index in 0..<capacity {
      headers[index].msg_hdr.msg_namelen = socklen_t(MemoryLayout<sockaddr_storage>.size)
      headers[index].msg_len = 0
    }
    let count = midge_dp_recvmmsg(
      descriptor, headers, UInt32(capacity), Int32(MSG_DONTWAIT))
    if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) { return 0 }
    return Int(count)
  }

  /// The received length of message `index`.
  func length(_ index: Int) -> Int { Int(headers[index].msg_len) }

  /// The AF_PACKET packet type of message `index` (PACKET_OUTGOING for our own).
  func packetType(_ index: Int) -> UInt8 {
    UnsafeRawPointer(names + index).load(as: sockaddr_ll.self).sll_pkttype
  }
}

/// Waits until `descriptor` is readable, `wake` is written to, or `milliseconds` pass;
/// drains `wake` and returns true when `descriptor` is readable.
func waitReadable(_ descriptor: Int32, wake: Int32, milliseconds: Int32) -> Bool {
  var requests = (
    pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0),
    pollfd(fd: wake, events: Int16(POLLIN), revents: 0)
  )
  let ready = withUnsafeMutableBytes(of: &requests) { bytes in
    poll(bytes.baseAddress!.assumingMemoryBound(to: pollfd.self), 2, milliseconds)
  }
  guard ready > 0 else { return false }
  if requests.1.revents & Int16(POLLIN) != 0 {
    var drain = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
    _ = withUnsafeMutableBytes(of: &drain) { read(wake, $0.baseAddress, $0.count) }
  }
  return requests.0.revents & Int16(POLLIN) != 0
}
