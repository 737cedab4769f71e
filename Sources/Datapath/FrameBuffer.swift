/// A frame inside a larger writable buffer, with room before it (headroom).
///
/// Why: pushing a VLAN tag makes the frame 4 bytes longer at its front. Growing it at the
/// back would mean moving everything after the addresses — up to 64 KB for a GSO frame —
/// on every packet of the flow. With headroom, as the kernel's `sk_buff` has, a push
/// moves only the 12 address bytes 4 bytes to the left and writes the tag behind them; a
/// pop moves them 4 bytes to the right. The packet loop receives each frame
/// `ActionExecutor.headroom` bytes into its buffer for this; a buffer without headroom
/// still runs every other action, and a push on it fails like a rewrite that cannot be
/// done.
public struct FrameBuffer {
  /// The whole writable region: headroom, the frame, and anything after it.
  public let storage: UnsafeMutableRawBufferPointer
  /// Where the frame starts in `storage` (the headroom left).
  public private(set) var start: Int
  /// The frame's length.
  public private(set) var count: Int

  /// A frame of `count` bytes at `start` in `storage`; the bytes before `start` are free
  /// for the frame to grow into. Nil when the frame does not fit in `storage`.
  public init?(storage: UnsafeMutableRawBufferPointer, start: Int, count: Int) {
    guard start >= 0, count >= 0, start <= storage.count - count else { return nil }
    self.storage = storage
    self.start = start
    self.count = count
  }

  /// A frame filling `bytes`, with no headroom.
  public init(_ bytes: UnsafeMutableRawBufferPointer) {
    storage = bytes
    start = 0
    count = bytes.count
  }

  /// The frame's bytes.
  @inline(__always)
  public var bytes: UnsafeMutableRawBufferPointer {
    UnsafeMutableRawBufferPointer(rebasing: storage[start..<start + count])
  }

  /// Opens `length` bytes right after the first `offset` bytes of the frame, moving those
  /// bytes into the headroom; false, changing nothing, without enough headroom.
  mutating func insert(_ length: Int, at offset: Int) -> Bool {
    guard length <= start, offset >= 0, offset <= count, let base = storage.baseAddress else {
      return false
    }
    (base + start - length).copyMemory(from: base + start, byteCount: offset)
    start -= length
    count += length
    return true
  }

  /// Removes the `length` bytes after the first `offset` bytes of the frame, moving those
  /// bytes forward over them; false, changing nothing, when the frame is too short.
  mutating func remove(_ length: Int, at offset: Int) -> Bool {
    guard length >= 0, offset >= 0, offset + length <= count, let base = storage.baseAddress
    else { return false }
    // The ranges overlap when offset > length; copyMemory allows that (memmove).
    (base + start + length).copyMemory(from: base + start, byteCount: offset)
    start += length
    count -= length
    return true
  }
}
