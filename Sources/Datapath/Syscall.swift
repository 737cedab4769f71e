import Glibc

// MARK: - Design: the system-call layer
//
// Every system call the Datapath module makes goes through one wrapper in `Syscall`
// (this file and Syscall+*.swift), as swift-nio's NIOPosix/System.swift does for NIO.
// Nowhere else in the module calls Glibc or a CDatapath shim that enters the kernel; a
// grep for a call's name finds its one wrapper.
//
// What the wrappers guarantee, so callers need not remember it each time:
//   - errno is read once, right after the call, into a `SystemCallError` (the call's
//     name and errno). Callers that give up wrap it as the `cause` of a `DatapathError`
//     with their context ("bind to veth3"); callers that carry on (the packet loops)
//     report it and go on.
//   - EINTR is retried here, in `retryingOnInterrupt`, and nowhere else. `close` is the
//     exception: on Linux the descriptor is gone even when close reports EINTR, so a
//     retry could close a descriptor another thread just opened.
//   - EAGAIN/EWOULDBLOCK comes back as an error like any other, with `wouldBlock` set,
//     so a caller decides what "not now" means for it (retry a send, nothing to read).
//   - Nothing is discarded: every result is returned or thrown.
//
// Performance. recvmmsg, sendmmsg, poll, read and write run once per batch on the packet
// threads; their wrappers are `@inline(__always)` and take pointers the caller already
// holds, so a call costs what the raw call costs. `SystemCallError` is a plain struct
// thrown with typed throws: no existential box, no allocation, even for the EAGAIN a
// full socket buffer gives on every batch.

/// The system calls of the Datapath module; see the design notes above.
enum Syscall {
  /// Runs `body`, a system call that returns -1 (or any negative value) and sets errno
  /// on failure, again for as long as it is interrupted by a signal (EINTR).
  @inline(__always)
  static func retryingOnInterrupt<Result: FixedWidthInteger & SignedInteger>(
    _ call: String, _ body: () -> Result
  ) throws(SystemCallError) -> Result {
    while true {
      let result = body()
      if result >= 0 { return result }
      let code = Glibc.errno
      if code != EINTR { throw SystemCallError(call: call, errno: code) }
    }
  }

  /// Closes `descriptor`. EINTR counts as closed (see the design notes).
  static func close(_ descriptor: Int32) throws(SystemCallError) {
    guard Glibc.close(descriptor) != 0 else { return }
    let code = Glibc.errno
    if code != EINTR { throw SystemCallError(call: "close", errno: code) }
  }

  /// Closes a descriptor its owner is done with, from a deinit or a failed setup where
  /// nobody is left to tell. The only failure that can happen there is EBADF, a double
  /// close — a bug, so debug builds stop on it.
  static func closeOwned(_ descriptor: Int32) {
    do throws(SystemCallError) {
      try close(descriptor)
    } catch {
      assertionFailure("closing descriptor \(descriptor): \(error)")
    }
  }

  /// `errno` is EAGAIN or EWOULDBLOCK.
  @inline(__always)
  static func isWouldBlock(_ errno: Int32) -> Bool {
    errno == EAGAIN || errno == EWOULDBLOCK
  }

  /// `errno` says a packet socket's interface went down or away.
  static func isInterfaceGone(_ errno: Int32) -> Bool {
    errno == ENETDOWN || errno == ENXIO
  }

  /// `errno` says there is no such interface.
  static func isNoSuchDevice(_ errno: Int32) -> Bool {
    errno == ENODEV
  }

  /// The C library's text for `errno`.
  static func errorText(_ errno: Int32) -> String {
    guard let text = strerror(errno) else { return "unknown error" }
    return String(cString: text)
  }
}
