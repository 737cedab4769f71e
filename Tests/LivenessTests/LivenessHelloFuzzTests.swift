import Liveness
import Testing
import Topology

/// Decoding is total: random bytes and mutated valid hellos either decode to a hello that
/// re-encodes to exactly the same bytes, or throw — never trap. Every loop is bounded.
@Suite struct LivenessHelloFuzzTests {
  /// Feeds `bytes` to the decoder; returns whether it decoded. Records an issue if a decoded
  /// hello does not re-encode to the input, or an error has no message.
  @discardableResult
  func check(_ bytes: [UInt8]) -> Bool {
    do {
      let hello = try LivenessHello(decoding: bytes)
      if hello.encoded() != bytes { Issue.record("re-encoding differs for \(bytes)") }
      return true
    } catch {
      if error.message.isEmpty { Issue.record("empty message for \(bytes)") }
      return false
    }
  }

  func randomHello(_ random: inout TestRandom) -> LivenessHello {
    let count = Int(random.next() % 65)
    return LivenessHello(
      sender: ID.random(using: &random), receiver: ID.random(using: &random),
      myDiscriminator: UInt32.random(in: 1...UInt32.max, using: &random),
      yourDiscriminator: UInt32.random(in: 0...UInt32.max, using: &random),
      state: LivenessHello.State(rawValue: UInt8(random.next() % 4))!,
      interval: .milliseconds(Int.random(in: 1...65535, using: &random)),
      multiplier: UInt8.random(in: 1...255, using: &random),
      serving: (0..<count).map { _ in ID.random(using: &random) })
  }

  @Test func randomHellosRoundTrip() throws {
    var random = TestRandom(seed: 1)
    for _ in 0..<2_000 {
      let hello = randomHello(&random)
      let bytes = hello.encoded()
      #expect(try LivenessHello(decoding: bytes) == hello)
      #expect(check(bytes))
    }
  }

  @Test func randomBytesNeverTrap() {
    var random = TestRandom(seed: 2)
    var decoded = 0
    for round in 0..<20_000 {
      var bytes: [UInt8]
      if round % 2 == 0 {
        bytes = (0..<Int(random.next() % 1200)).map { _ in UInt8.random(in: 0...255, using: &random)
        }
      } else {
        // Magic and a plausible header, so the decoder gets past its first checks.
        let count = Int(random.next() % 70)
        bytes = LivenessHello.magic
        bytes += (0..<48).map { _ in UInt8.random(in: 0...255, using: &random) }
        bytes[44] = UInt8(random.next() % 5)
        if random.next() % 4 != 0 { bytes[45] = 0 }
        bytes[49] = UInt8(count)
        if random.next() % 4 != 0 {
          bytes[50] = 0
          bytes[51] = 0
        }
        let extra = random.next() % 8 == 0 ? Int(random.next() % 3) - 1 : 0
        bytes += (0..<max(0, 16 * count + extra)).map { _ in
          UInt8.random(in: 0...255, using: &random)
        }
      }
      if check(bytes) { decoded += 1 }
    }
    // The structured half must reach the success path often, or the loop proves little.
    #expect(decoded > 1_000)
  }

  @Test func mutatedHellosNeverTrap() {
    var random = TestRandom(seed: 3)
    var decoded = 0
    var refused = 0
    for _ in 0..<20_000 {
      var bytes = randomHello(&random).encoded()
      switch random.next() % 5 {
      case 0:
        bytes[Int(random.next() % UInt64(bytes.count))] ^= UInt8(1 << (random.next() % 8))
      case 1:
        bytes.removeLast(Int(random.next() % UInt64(bytes.count + 1)))
      case 2:
        bytes += (0..<Int(random.next() % 40)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
      case 3:
        let position = Int(random.next() % UInt64(bytes.count))
        bytes[position] = UInt8(truncatingIfNeeded: random.next())
      default:
        if bytes.count >= 84 {
          // Duplicate the first port into the second.
          bytes.replaceSubrange(68..<84, with: bytes[52..<68])
        }
      }
      if check(bytes) { decoded += 1 } else { refused += 1 }
    }
    #expect(decoded > 1_000)
    #expect(refused > 1_000)
  }
}
