import Glibc
import Testing

@testable import Datapath

/// The system-call layer's promises: errno read once into a `SystemCallError`, EINTR
/// retried, EAGAIN told apart, and failures surfacing as `DatapathError`s with the call
/// underneath.
@Suite("System-call wrappers")
struct SyscallTests {
  @Test("EINTR is retried until the call gives an answer")
  func interruptRetried() throws {
    var attempts = 0
    let result = try Syscall.retryingOnInterrupt("test") { () -> Int32 in
      attempts += 1
      guard attempts == 3 else {
        errno = EINTR
        return -1
      }
      return 7
    }
    #expect(result == 7)
    #expect(attempts == 3)
  }

  @Test("any other errno is thrown once, with the call's name")
  func errorThrown() {
    var attempts = 0
    #expect(throws: SystemCallError(call: "test", errno: EIO)) {
      try Syscall.retryingOnInterrupt("test") { () -> Int in
        attempts += 1
        errno = EIO
        return -1
      }
    }
    #expect(attempts == 1)
  }

  @Test("a wake-up pipe is non-blocking at both ends: empty and full say would-block")
  func pipeWouldBlock() throws {
    let pipe = try Syscall.nonBlockingPipe()
    defer {
      Syscall.closeOwned(pipe.reader)
      Syscall.closeOwned(pipe.writer)
    }
    var byte: UInt8 = 0
    do throws(SystemCallError) {
      _ = try Syscall.read(pipe.reader, &byte, 1)
      Issue.record("read from an empty pipe did not fail")
    } catch {
      #expect(error.wouldBlock)
      #expect(error.call == "read")
    }
    byte = 42
    #expect(try Syscall.write(pipe.writer, &byte, 1) == 1)
    byte = 0
    #expect(try Syscall.read(pipe.reader, &byte, 1) == 1)
    #expect(byte == 42)
    let chunk = UnsafeMutableRawPointer.allocate(byteCount: 4_096, alignment: 8)
    defer { chunk.deallocate() }
    chunk.initializeMemory(as: UInt8.self, repeating: 1, count: 4_096)
    var full: SystemCallError?
    for _ in 0..<1_024 where full == nil {
      do throws(SystemCallError) {
        _ = try Syscall.write(pipe.writer, chunk, 4_096)
      } catch {
        full = error
      }
    }
    #expect(full?.wouldBlock == true)
  }

  @Test("closing a descriptor that is not open is EBADF, described with its text")
  func closeBadDescriptor() {
    #expect(throws: SystemCallError(call: "close", errno: EBADF)) {
      try Syscall.close(-1)
    }
    let text = SystemCallError(call: "close", errno: EBADF).description
    #expect(text.hasPrefix("close failed: "))
    #expect(text.hasSuffix("(errno \(EBADF))"))
  }

  @Test("an unknown interface is interfaceNotFound, with the system call as its cause")
  func unknownInterface() {
    #expect {
      try Syscall.interfaceIndex("midge-none0")
    } throws: { error in
      (error as? SystemCallError)?.noSuchDevice == true
    }
    #expect {
      _ = try PacketSocket(interface: "midge-none0")
    } throws: { error in
      guard let error = error as? DatapathError else { return false }
      return error.code == .interfaceNotFound && error.cause is SystemCallError
    }
  }

  @Test("the interface list names the loopback interface")
  func interfaceNames() throws {
    #expect(try DatapathSwitch.interfaceNames().contains("lo"))
  }
}
