import CDatapath
import Glibc

/// The calls on the packet loops' path: batched receive and send, waiting, and the wake
/// pipe. Inlined, taking the caller's pointers, so they cost what the raw calls cost.
extension Syscall {
  /// recvmmsg(2): receives up to `count` messages into `messages`; returns how many.
  @inline(__always)
  static func recvmmsg(
    _ descriptor: Int32, _ messages: UnsafeMutablePointer<midge_dp_mmsghdr>, _ count: Int,
    flags: Int32
  ) throws(SystemCallError) -> Int {
    Int(
      try retryingOnInterrupt("recvmmsg") {
        midge_dp_recvmmsg(descriptor, messages, UInt32(truncatingIfNeeded: count), flags)
      })
  }

  /// sendmmsg(2): sends up to `count` messages from `messages`; returns how many went.
  @inline(__always)
  static func sendmmsg(
    _ descriptor: Int32, _ messages: UnsafeMutablePointer<midge_dp_mmsghdr>, _ count: Int,
    flags: Int32
  ) throws(SystemCallError) -> Int {
    Int(
      try retryingOnInterrupt("sendmmsg") {
        midge_dp_sendmmsg(descriptor, messages, UInt32(truncatingIfNeeded: count), flags)
      })
  }

  /// poll(2) on `requests`, `count` `pollfd`s stored inline (a tuple), for up to
  /// `milliseconds`; returns how many are ready.
  @inline(__always)
  static func poll<Requests>(_ requests: inout Requests, count: Int, milliseconds: Int32)
    throws(SystemCallError) -> Int
  {
    precondition(MemoryLayout<Requests>.size == count * MemoryLayout<pollfd>.stride)
    return Int(
      try retryingOnInterrupt("poll") {
        withUnsafeMutablePointer(to: &requests) {
          $0.withMemoryRebound(to: pollfd.self, capacity: count) {
            Glibc.poll($0, nfds_t(count), milliseconds)
          }
        }
      })
  }

  /// read(2) of up to `count` bytes into `buffer`; returns how many were read.
  @inline(__always)
  static func read(
    _ descriptor: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int
  ) throws(SystemCallError) -> Int {
    try retryingOnInterrupt("read") { Glibc.read(descriptor, buffer, count) }
  }

  /// write(2) of `count` bytes from `buffer`; returns how many were written.
  @inline(__always)
  static func write(
    _ descriptor: Int32, _ buffer: UnsafeRawPointer, _ count: Int
  ) throws(SystemCallError) -> Int {
    try retryingOnInterrupt("write") { Glibc.write(descriptor, buffer, count) }
  }

  /// pipe2(2) with O_NONBLOCK on both ends, set with the pipe's creation rather than by
  /// two more fcntl calls that could each fail; returns the read and write ends.
  static func nonBlockingPipe() throws(SystemCallError) -> (reader: Int32, writer: Int32) {
    var descriptors: (Int32, Int32) = (-1, -1)
    _ = try retryingOnInterrupt("pipe2") {
      withUnsafeMutablePointer(to: &descriptors) {
        $0.withMemoryRebound(to: Int32.self, capacity: 2) {
          midge_dp_pipe2($0, O_NONBLOCK)
        }
      }
    }
    return (descriptors.0, descriptors.1)
  }
}
