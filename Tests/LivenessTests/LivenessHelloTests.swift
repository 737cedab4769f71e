import Liveness
import Testing
import Topology

/// The wire form: round trips, layout, and every way a hello is refused.
@Suite struct LivenessHelloTests {
  func sample(ports: Int) -> LivenessHello {
    LivenessHello(
      sender: host("a"), receiver: host("b"), myDiscriminator: 0x0102_0304,
      yourDiscriminator: 0xA0B0_C0D0, state: .up, interval: .milliseconds(100), multiplier: 3,
      serving: (0..<ports).map { port("\($0)") })
  }

  @Test(arguments: [0, 1, 64]) func roundTrip(ports: Int) throws {
    let hello = sample(ports: ports)
    let bytes = hello.encoded()
    #expect(bytes.count == LivenessHello.headerSize + 16 * ports)
    #expect(LivenessHello.hasMagic(bytes))
    let decoded = try LivenessHello(decoding: bytes)
    #expect(decoded == hello)
    #expect(decoded.encoded() == bytes)
    // Any collection of bytes, not only arrays.
    #expect(try LivenessHello(decoding: bytes[...]) == hello)
  }

  @Test func layoutIsBigEndian() {
    let bytes = LivenessHello(
      sender: ID(high: 0x1122_3344_5566_7788, low: 0x99AA_BBCC_DDEE_FF00), receiver: .zero,
      myDiscriminator: 0x0102_0304, yourDiscriminator: 0, state: .initializing,
      interval: .milliseconds(0x0123), multiplier: 7, serving: [ID(high: 1, low: 2)]
    ).encoded()
    #expect(Array(bytes[0..<4]) == [0x4D, 0x4C, 0x56, 0x01])
    #expect(Array(bytes[4..<12]) == [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88])
    #expect(Array(bytes[20..<36]) == Array(repeating: 0, count: 16))
    #expect(Array(bytes[36..<40]) == [1, 2, 3, 4])
    #expect(Array(bytes[44..<52]) == [2, 0, 0x01, 0x23, 7, 1, 0, 0])
    #expect(bytes[59] == 1 && bytes[67] == 2)
  }

  @Test func everyStateDecodes() throws {
    for state in [LivenessHello.State.adminDown, .down, .initializing, .up] {
      var hello = sample(ports: 0)
      hello.state = state
      #expect(try LivenessHello(decoding: hello.encoded()).state == state)
    }
  }

  @Test func magicIsRecognised() {
    #expect(LivenessHello.hasMagic([0x4D, 0x4C, 0x56, 0x01, 9]))
    #expect(!LivenessHello.hasMagic([0x4D, 0x4C, 0x56]))
    #expect(!LivenessHello.hasMagic(Array("MFS\u{1}xxxx".utf8)))
    #expect(!LivenessHello.hasMagic([UInt8]()))
  }

  /// Decodes `bytes`, expecting `code` and a message containing `words`.
  func expectRejected(
    _ bytes: [UInt8], _ code: LivenessError.Code, _ words: String,
    sourceLocation: SourceLocation = #_sourceLocation
  ) {
    do {
      let hello = try LivenessHello(decoding: bytes)
      Issue.record("decoded \(hello)", sourceLocation: sourceLocation)
    } catch {
      #expect(error.code == code, sourceLocation: sourceLocation)
      #expect(error.message.contains(words), "\(error.message)", sourceLocation: sourceLocation)
      #expect(error.description.hasPrefix("Liveness: "), sourceLocation: sourceLocation)
    }
  }

  func patched(_ offset: Int, _ values: [UInt8], ports: Int = 2) -> [UInt8] {
    var bytes = sample(ports: ports).encoded()
    bytes.replaceSubrange(offset..<offset + values.count, with: values)
    return bytes
  }

  @Test func rejectsShort() {
    expectRejected([], .truncated, "shorter")
    expectRejected(Array(sample(ports: 0).encoded().dropLast()), .truncated, "51 bytes")
  }

  @Test func rejectsBadMagic() {
    expectRejected(patched(3, [0x02]), .badMagic, "magic")
    expectRejected(patched(0, Array("MFS".utf8)), .badMagic, "magic")
  }

  @Test func rejectsBadState() {
    expectRejected(patched(44, [4]), .badState, "state 4")
    expectRejected(patched(44, [0xFF]), .badState, "state 255")
  }

  @Test func rejectsZeroDiscriminator() {
    expectRejected(patched(36, [0, 0, 0, 0]), .zeroDiscriminator, "discriminator")
  }

  @Test func acceptsZeroYourDiscriminator() throws {
    #expect(try LivenessHello(decoding: patched(40, [0, 0, 0, 0])).yourDiscriminator == 0)
  }

  @Test func rejectsZeroIntervalOrMultiplier() {
    expectRejected(patched(46, [0, 0]), .badInterval, "interval")
    expectRejected(patched(48, [0]), .badMultiplier, "multiplier")
  }

  @Test func acceptsExtremeTimers() throws {
    let hello = try LivenessHello(decoding: patched(46, [0xFF, 0xFF, 0xFF]))
    #expect(hello.interval == .milliseconds(65535))
    #expect(hello.multiplier == 255)
  }

  @Test func rejectsTooManyPorts() {
    var bytes = sample(ports: 64).encoded()
    bytes[49] = 65
    bytes += Array(repeating: 7, count: 16)
    expectRejected(bytes, .tooManyPorts, "65 serving ports")
  }

  @Test func rejectsDuplicatePort() {
    var bytes = sample(ports: 3).encoded()
    bytes.replaceSubrange(84..<100, with: bytes[52..<68])
    expectRejected(bytes, .duplicatePort, port("0").description)
  }

  @Test func rejectsLengthNotMatchingCount() {
    expectRejected(patched(49, [3]), .badLength, "3 serving ports make 100")
    expectRejected(patched(49, [1]), .badLength, "84 bytes")
    expectRejected(sample(ports: 1).encoded() + [0], .badLength, "69 bytes")
    let huge = sample(ports: 64).encoded() + Array(repeating: 0, count: 10_000)
    expectRejected(huge, .badLength, "more than 1076")
  }

  @Test func rejectsNonZeroFlagsAndReserved() {
    expectRejected(patched(45, [0x80]), .nonZeroReserved, "flags")
    expectRejected(patched(50, [0, 1]), .nonZeroReserved, "reserved")
    expectRejected(patched(50, [1, 0]), .nonZeroReserved, "reserved")
  }

  @Test func validateMatchesTheDecoder() {
    var hello = sample(ports: 2)
    #expect(throws: Never.self) { try hello.validate() }
    hello.interval = .microseconds(100_500)
    #expect { try hello.validate() } throws: { ($0 as? LivenessError)?.code == .badInterval }
    expectRejected(hello.encoded(), .badInterval, "interval")
    hello.interval = .seconds(70)
    #expect { try hello.validate() } throws: { ($0 as? LivenessError)?.code == .badInterval }
    // An invalid hello encodes to bytes the decoder refuses, never to another hello.
    expectRejected(hello.encoded(), .badInterval, "interval")
    hello = sample(ports: 65)
    expectRejected(hello.encoded(), .tooManyPorts, "65")
    hello = sample(ports: 300)
    expectRejected(hello.encoded(), .tooManyPorts, "255")
    hello = sample(ports: 2)
    hello.serving[1] = hello.serving[0]
    expectRejected(hello.encoded(), .duplicatePort, "twice")
    hello = sample(ports: 0)
    hello.myDiscriminator = 0
    expectRejected(hello.encoded(), .zeroDiscriminator, "zero")
  }
}
