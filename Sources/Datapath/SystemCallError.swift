/// A failed system call: which call, and the errno it left.
///
/// The `Syscall` wrappers throw it, and it is the `cause` of the `DatapathError`s their
/// callers throw. It is a plain value — a static name and a number — so the packet loops
/// can throw and catch it on their hot path (a full socket buffer on every batch) without
/// allocating; only a caller that gives up wraps it in a `DatapathError`.
public struct SystemCallError: Error, CustomStringConvertible, Sendable, Hashable {
  /// The call that failed ("sendmmsg", "setsockopt(PACKET_VNET_HDR)").
  public var call: String
  /// The errno it left.
  public var errno: Int32

  /// Creates an error.
  public init(call: String, errno: Int32) {
    self.call = call
    self.errno = errno
  }

  /// True when a non-blocking call would have blocked (EAGAIN or EWOULDBLOCK): not a
  /// failure of the descriptor, only "nothing now", which callers handle apart.
  public var wouldBlock: Bool { Syscall.isWouldBlock(errno) }

  /// True when the interface under a packet socket went down or away (ENETDOWN, ENXIO).
  public var interfaceGone: Bool { Syscall.isInterfaceGone(errno) }

  /// True when the interface asked about does not exist (ENODEV).
  public var noSuchDevice: Bool { Syscall.isNoSuchDevice(errno) }

  public var description: String {
    "\(call) failed: \(Syscall.errorText(errno)) (errno \(errno))"
  }
}
