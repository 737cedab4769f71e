import Addresses

/// Bounds-checked big-endian reads from borrowed bytes.
///
/// `UnsafeRawBufferPointer`'s own subscript only checks bounds in debug builds, and the
/// parser reads attacker-controlled frames in release builds. Every read here checks its
/// range and yields 0 outside it. The parsers still check each header's length up front
/// and report truncation; these checks are the second line of defence that keeps a
/// parser bug from becoming an out-of-bounds read.
extension UnsafeRawBufferPointer {
  @inline(__always)
  func readUInt8(at offset: Int) -> UInt8 {
    guard offset >= 0, offset < count else { return 0 }
    return self[offset]
  }

  @inline(__always)
  func readUInt16(at offset: Int) -> UInt16 {
    guard offset >= 0, offset <= count - 2 else { return 0 }
    return UInt16(self[offset]) << 8 | UInt16(self[offset + 1])
  }

  @inline(__always)
  func readUInt32(at offset: Int) -> UInt32 {
    guard offset >= 0, offset <= count - 4 else { return 0 }
    return UInt32(self[offset]) << 24 | UInt32(self[offset + 1]) << 16
      | UInt32(self[offset + 2]) << 8 | UInt32(self[offset + 3])
  }

  @inline(__always)
  func readMAC(at offset: Int) -> MACAddress {
    guard offset >= 0, offset <= count - 6 else { return .zero }
    return MACAddress(
      rawValue: UInt64(readUInt16(at: offset)) << 32 | UInt64(readUInt32(at: offset + 2)))
  }

  @inline(__always)
  func readIPv4(at offset: Int) -> IPv4Address {
    IPv4Address(rawValue: readUInt32(at: offset))
  }

  /// True when `length` bytes starting at `offset` are inside the buffer.
  @inline(__always)
  func has(_ length: Int, at offset: Int) -> Bool {
    offset >= 0 && length >= 0 && offset <= count && count - offset >= length
  }
}

/// Bounds-checked big-endian writes, used by the in-place rewriters.
extension UnsafeMutableRawBufferPointer {
  @inline(__always)
  func writeUInt8(_ value: UInt8, at offset: Int) {
    guard offset >= 0, offset < count else { return }
    self[offset] = value
  }

  @inline(__always)
  func writeUInt16(_ value: UInt16, at offset: Int) {
    guard offset >= 0, offset <= count - 2 else { return }
    self[offset] = UInt8(truncatingIfNeeded: value >> 8)
    self[offset + 1] = UInt8(truncatingIfNeeded: value)
  }

  @inline(__always)
  func writeUInt32(_ value: UInt32, at offset: Int) {
    guard offset >= 0, offset <= count - 4 else { return }
    self[offset] = UInt8(truncatingIfNeeded: value >> 24)
    self[offset + 1] = UInt8(truncatingIfNeeded: value >> 16)
    self[offset + 2] = UInt8(truncatingIfNeeded: value >> 8)
    self[offset + 3] = UInt8(truncatingIfNeeded: value)
  }

  @inline(__always)
  func writeMAC(_ value: MACAddress, at offset: Int) {
    guard offset >= 0, offset <= count - 6 else { return }
    writeUInt16(UInt16(truncatingIfNeeded: value.rawValue >> 32), at: offset)
    writeUInt32(UInt32(truncatingIfNeeded: value.rawValue), at: offset + 2)
  }
}

/// Big-endian appends, used by the builders.
extension Array where Element == UInt8 {
  @inline(__always)
  mutating func appendUInt16(_ value: UInt16) {
    append(UInt8(truncatingIfNeeded: value >> 8))
    append(UInt8(truncatingIfNeeded: value))
  }

  @inline(__always)
  mutating func appendUInt32(_ value: UInt32) {
    appendUInt16(UInt16(truncatingIfNeeded: value >> 16))
    appendUInt16(UInt16(truncatingIfNeeded: value))
  }

  @inline(__always)
  mutating func appendMAC(_ value: MACAddress) {
    appendUInt16(UInt16(truncatingIfNeeded: value.rawValue >> 32))
    appendUInt32(UInt32(truncatingIfNeeded: value.rawValue))
  }

  /// Overwrites a big-endian 16-bit field; out-of-range offsets are ignored.
  @inline(__always)
  mutating func setUInt16(_ value: UInt16, at offset: Int) {
    guard offset >= 0, offset <= count - 2 else { return }
    self[offset] = UInt8(truncatingIfNeeded: value >> 8)
    self[offset + 1] = UInt8(truncatingIfNeeded: value)
  }
}
