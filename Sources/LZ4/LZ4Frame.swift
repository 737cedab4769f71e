import CLZ4

/// LZ4 compression behind a small self-describing header.
///
/// Layout (9 bytes, then the payload):
///
///     0..3  magic  "MLZ4"  (0x4D 0x4C 0x5A 0x34)
///     4     codec  0 = stored raw, 1 = one LZ4 block
///     5..8  raw length, unsigned 32-bit little endian
///
/// The header lets a reader tell framed values from plain ones (the NSDB only
/// frames values above a threshold) and decompress into a buffer of exactly
/// the right size. When compression does not make the value smaller the
/// payload is stored raw, so a frame is never more than 9 bytes larger than
/// its input. Decoding checks every length before touching memory: corrupt or
/// truncated input throws ``LZ4Error`` and never crashes.
public enum LZ4Frame {
  public static let magic: [UInt8] = [0x4D, 0x4C, 0x5A, 0x34]
  public static let headerSize = 9
  /// Refuse to allocate more than this when decoding (a corrupt length must
  /// not become a huge allocation). 256 MiB.
  public static let defaultMaximumLength = 256 << 20

  public enum Codec: UInt8, Sendable {
    case stored = 0
    case lz4 = 1
  }

  /// Frames `input`, compressed when that makes it smaller.
  public static func encode(_ input: [UInt8]) -> [UInt8] {
    precondition(input.count <= Int(Int32.max), "LZ4 input over 2 GiB")
    let bound = Int(LZ4_compressBound(Int32(input.count)))
    var output = [UInt8](repeating: 0, count: headerSize + max(bound, input.count))
    let compressed: Int = input.withUnsafeBytes { source in
      output.withUnsafeMutableBytes { target in
        guard !source.isEmpty, let src = source.baseAddress, let dst = target.baseAddress else {
          return 0
        }
        return Int(
          LZ4_compress_default(
            src.assumingMemoryBound(to: CChar.self),
            (dst + headerSize).assumingMemoryBound(to: CChar.self),
            Int32(source.count), Int32(bound)))
      }
    }
    let codec: Codec
    if compressed > 0 && compressed < input.count {
      codec = .lz4
      output.removeLast(output.count - headerSize - compressed)
    } else {
      codec = .stored
      output.replaceSubrange(headerSize..<output.count, with: input)
    }
    writeHeader(into: &output, codec: codec, rawLength: input.count)
    return output
  }

  /// True when `bytes` start with the frame magic.
  public static func isFramed(_ bytes: [UInt8]) -> Bool {
    bytes.count >= magic.count && Array(bytes[0..<magic.count]) == magic
  }

  /// Decodes a frame made by ``encode(_:)``.
  public static func decode(_ frame: [UInt8], maximumLength: Int = defaultMaximumLength)
    throws(LZ4Error)
    -> [UInt8]
  {
    guard frame.count >= headerSize else {
      throw LZ4Error(.truncated, "frame of \(frame.count) bytes is shorter than its header")
    }
    guard isFramed(frame) else { throw LZ4Error(.badMagic, "not an LZ4 frame (bad magic)") }
    guard let codec = Codec(rawValue: frame[4]) else {
      throw LZ4Error(.unknownCodec, "unknown codec \(frame[4])")
    }
    let rawLength =
      Int(frame[5]) | Int(frame[6]) << 8 | Int(frame[7]) << 16 | Int(frame[8]) << 24
    guard rawLength <= maximumLength else {
      throw LZ4Error(.tooLarge, "raw length \(rawLength) exceeds the limit \(maximumLength)")
    }
    let payload = frame.count - headerSize
    switch codec {
    case .stored:
      guard payload == rawLength else {
        throw LZ4Error(
          payload < rawLength ? .truncated : .corrupt,
          "stored payload is \(payload) bytes, header says \(rawLength)")
      }
      return Array(frame[headerSize...])
    case .lz4:
      guard payload > 0 else { throw LZ4Error(.truncated, "empty LZ4 payload") }
      // An LZ4 block expands at most 255-fold (a match length byte of 255 per input
      // byte): a header claiming more cannot be true, and believing it would allocate the
      // claimed size before liblz4 refuses the payload (a 10-byte znode could claim 256 MiB).
      guard rawLength <= payload * 255 else {
        throw LZ4Error(
          .corrupt, "raw length \(rawLength) is more than 255 times the \(payload)-byte payload")
      }
      return try decompressBlock(frame, offset: headerSize, rawLength: rawLength)
    }
  }

  static func decompressBlock(_ frame: [UInt8], offset: Int, rawLength: Int) throws(LZ4Error)
    -> [UInt8]
  {
    var output = [UInt8](repeating: 0, count: rawLength)
    let produced: Int32 = frame.withUnsafeBytes { source in
      output.withUnsafeMutableBytes { target in
        guard let src = source.baseAddress else { return -1 }
        let dst = target.baseAddress ?? UnsafeMutableRawPointer(mutating: src)
        return LZ4_decompress_safe(
          (src + offset).assumingMemoryBound(to: CChar.self),
          dst.assumingMemoryBound(to: CChar.self),
          Int32(source.count - offset), Int32(rawLength))
      }
    }
    guard produced >= 0 else {
      throw LZ4Error(.corrupt, "LZ4 payload is corrupt or truncated (code \(produced))")
    }
    guard Int(produced) == rawLength else {
      throw LZ4Error(.corrupt, "LZ4 payload gave \(produced) bytes, header says \(rawLength)")
    }
    return output
  }

  static func writeHeader(into output: inout [UInt8], codec: Codec, rawLength: Int) {
    output[0] = magic[0]
    output[1] = magic[1]
    output[2] = magic[2]
    output[3] = magic[3]
    output[4] = codec.rawValue
    let length = UInt32(rawLength)
    output[5] = UInt8(truncatingIfNeeded: length)
    output[6] = UInt8(truncatingIfNeeded: length >> 8)
    output[7] = UInt8(truncatingIfNeeded: length >> 16)
    output[8] = UInt8(truncatingIfNeeded: length >> 24)
  }
}
