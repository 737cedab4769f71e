import LZ4
import MidgeTestSupport
import Testing

@Suite("LZ4 framing")
struct LZ4FrameTests {
  static let sizes = [0, 1, 2, 8, 9, 15, 64, 100, 1000, 4096, 65_535, 65_536, 300_000, 1 << 20]

  @Test("random and repetitive data round-trip from 0 bytes to 1 MiB", arguments: sizes)
  func roundTrip(size: Int) throws {
    var rng = SplitMix64(state: UInt64(size) &+ 1)
    let random = (0..<size).map { _ in UInt8.random(in: 0...255, using: &rng) }
    let frame = LZ4Frame.encode(random)
    #expect(LZ4Frame.isFramed(frame))
    #expect(frame.count <= size + LZ4Frame.headerSize, "incompressible data grew past the header")
    #expect(try LZ4Frame.decode(frame) == random)

    let repetitive = (0..<size).map { UInt8(truncatingIfNeeded: $0 % 7) }
    let packed = LZ4Frame.encode(repetitive)
    #expect(try LZ4Frame.decode(packed) == repetitive)
    if size >= 1000 {
      #expect(packed[4] == LZ4Frame.Codec.lz4.rawValue)
      #expect(packed.count < size / 4)
    }
  }

  @Test("truncated frames throw at every length")
  func truncated() {
    let input = (0..<5000).map { UInt8(truncatingIfNeeded: $0 % 13) }
    let frame = LZ4Frame.encode(input)
    for length in 0..<frame.count {
      #expect(throws: LZ4Error.self) { try LZ4Frame.decode(Array(frame[0..<length])) }
    }
    let stored = LZ4Frame.encode([1, 2, 3])
    #expect(throws: LZ4Error.self) { try LZ4Frame.decode(Array(stored.dropLast())) }
  }

  @Test("corrupted frames throw or decode to the declared length, never crash")
  func corrupted() throws {
    var rng = SplitMix64(state: 42)
    let input = (0..<20_000).map { UInt8(truncatingIfNeeded: $0 % 31 + ($0 / 500)) }
    let frame = LZ4Frame.encode(input)
    var failures = 0
    for _ in 0..<2000 {
      var broken = frame
      let index = Int.random(in: LZ4Frame.headerSize..<broken.count, using: &rng)
      broken[index] ^= UInt8.random(in: 1...255, using: &rng)
      do {
        let output = try LZ4Frame.decode(broken)
        #expect(output.count == input.count)
      } catch {
        failures += 1
      }
    }
    #expect(failures > 0)

    var badMagic = frame
    badMagic[0] = 0
    #expect(throws: LZ4Error(.badMagic, "not an LZ4 frame (bad magic)")) {
      try LZ4Frame.decode(badMagic)
    }
    var badCodec = frame
    badCodec[4] = 9
    #expect(throws: LZ4Error.self) { try LZ4Frame.decode(badCodec) }
    var huge = frame
    huge[8] = 0x7F
    do {
      _ = try LZ4Frame.decode(huge)
      Issue.record("a frame declaring 2 GiB decoded")
    } catch {
      #expect(error.code == .tooLarge)
    }
    var longer = frame
    longer[5] &+= 1
    #expect(throws: LZ4Error.self) { try LZ4Frame.decode(longer) }
  }

  @Test(
    "random bytes never crash the decoder: each is refused for a reason or decodes to bytes that round-trip"
  )
  func randomInput() throws {
    var rng = SplitMix64(state: 7)
    var refused: [LZ4Error.Code: Int] = [:]
    var decoded = 0
    for _ in 0..<3000 {
      let length = Int.random(in: 0..<64, using: &rng)
      var bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
      if bytes.count >= 9 && Bool.random(using: &rng) {
        bytes.replaceSubrange(0..<4, with: LZ4Frame.magic)
        bytes[4] = 1
        bytes[8] = 0
        bytes[7] = 0
      }
      do {
        let output = try LZ4Frame.decode(bytes)
        decoded += 1
        #expect(try LZ4Frame.decode(LZ4Frame.encode(output)) == output)
      } catch {
        refused[error.code, default: 0] += 1
      }
    }
    // The inputs reach past the header checks: short, foreign and corrupt frames are all
    // refused, each with its own code.
    #expect(refused[.truncated, default: 0] > 0)
    #expect(refused[.badMagic, default: 0] > 0)
    #expect(refused[.unknownCodec, default: 0] + refused[.corrupt, default: 0] > 0)
    #expect(decoded + refused.values.reduce(0, +) == 3000)
  }

  @Test("a header claiming more than an LZ4 block can expand to is refused before allocating")
  func expansionBomb() throws {
    // The fuzzer's find: 10 bytes that claimed 256 MiB (0x0fffffff) made the decoder zero
    // 256 MiB before liblz4 refused the payload.
    let bomb = LZ4Frame.magic + [1, 0xFF, 0xFF, 0xFF, 0x0F, 0x00]
    #expect {
      try LZ4Frame.decode(bomb)
    } throws: { error in
      (error as? LZ4Error)?.code == .corrupt && "\(error)".contains("255 times")
    }
    // The most compressible real data still decodes: 1 MiB of zeros.
    let zeros = [UInt8](repeating: 0, count: 1 << 20)
    #expect(try LZ4Frame.decode(LZ4Frame.encode(zeros)) == zeros)
  }
}
