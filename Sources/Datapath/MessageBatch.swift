import Addresses
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

  /// Receives up to `capacity` messages without blocking; 0 when none are queued.
  @inline(__always)
  func receive(on descriptor: Int32) throws(SystemCallError) -> Int {
    for index in 0..<capacity {
      headers[index].msg_hdr.msg_namelen = socklen_t(MemoryLayout<sockaddr_storage>.size)
      headers[index].msg_len = 0
    }
    do throws(SystemCallError) {
      return try Syscall.recvmmsg(descriptor, headers, capacity, flags: Int32(MSG_DONTWAIT))
    } catch {
      if error.wouldBlock { return 0 }
      throw error
    }
  }

  /// The received length of message `index`.
  func length(_ index: Int) -> Int { Int(headers[index].msg_len) }

  /// The IPv4 source of UDP message `index` (nil for another family).
  func sourceIPv4(_ index: Int) -> TunnelEndpoint? {
    let raw = UnsafeRawPointer(names + index)
    guard raw.load(as: sockaddr.self).sa_family == sa_family_t(AF_INET) else { return nil }
    let address = raw.load(as: sockaddr_in.self)
    return TunnelEndpoint(
      address: IPv4Address(rawValue: UInt32(bigEndian: address.sin_addr.s_addr)),
      port: UInt16(bigEndian: address.sin_port))
  }

  /// The AF_PACKET packet type of message `index` (PACKET_OUTGOING for our own).
  func packetType(_ index: Int) -> UInt8 {
    UnsafeRawPointer(names + index).load(as: sockaddr_ll.self).sll_pkttype
  }
}

/// Waits until `descriptor` is readable, `wake` is written to, or `milliseconds` pass;
/// drains `wake` and returns true when `descriptor` is readable.
@inline(__always)
func waitReadable(_ descriptor: Int32, wake: Int32, milliseconds: Int32) throws(SystemCallError)
  -> Bool
{
  var requests = (
    pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0),
    pollfd(fd: wake, events: Int16(POLLIN), revents: 0)
  )
  let ready = try Syscall.poll(&requests, count: 2, milliseconds: milliseconds)
  guard ready > 0 else { return false }
  if requests.1.revents & Int16(POLLIN) != 0 {
    var drain = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
    do throws(SystemCallError) {
      _ = try Syscall.read(wake, &drain, MemoryLayout.size(ofValue: drain))
    } catch {
      // Emptied by a wake-up racing this one: nothing to drain is fine.
      if !error.wouldBlock { throw error }
    }
  }
  return requests.0.revents & Int16(POLLIN) != 0
}
