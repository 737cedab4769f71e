import Topology

extension LivenessHello {
  /// Whether `bytes` starts with the liveness magic: how the shell routes a tunnel message
  /// here rather than to flow state ("MFS\x01").
  public static func hasMagic(_ bytes: some Collection<UInt8>) -> Bool {
    bytes.starts(with: magic)
  }

  /// The wire form.
  ///
  /// A valid hello (`validate()` passes) encodes to bytes that decode to an equal hello. An
  /// invalid one encodes to bytes the decoder refuses, never to another hello: an interval
  /// that is not a whole number of ms in 1...65535 is written as 0, more than 255 ports as
  /// the first 255, everything else as it is.
  public func encoded() -> [UInt8] {
    let ports = serving.prefix(Int(UInt8.max))
    var bytes: [UInt8] = []
    bytes.reserveCapacity(Self.headerSize + ports.count * 16)
    bytes += Self.magic
    Self.append(sender, to: &bytes)
    Self.append(receiver, to: &bytes)
    Self.append(UInt64(myDiscriminator), width: 4, to: &bytes)
    Self.append(UInt64(yourDiscriminator), width: 4, to: &bytes)
    bytes.append(state.rawValue)
    bytes.append(0)  // flags
    Self.append(UInt64(wireInterval), width: 2, to: &bytes)
    bytes.append(multiplier)
    bytes.append(UInt8(ports.count))
    bytes += [0, 0]  // reserved
    for port in ports { Self.append(port, to: &bytes) }
    return bytes
  }

  /// Reads a hello. Total: any byte string either decodes to a hello whose `encoded()` is
  /// exactly those bytes, or throws an error naming what is wrong. A hostile datagram costs
  /// its own drop and nothing else (at most `headerSize + 16 * maxServing + 1` bytes are
  /// copied, however long the input).
  public init(decoding input: some Collection<UInt8>) throws(LivenessError) {
    let longest = Self.headerSize + 16 * Self.maxServing
    let bytes = Array(input.prefix(longest + 1))
    guard bytes.count >= Self.headerSize else {
      throw LivenessError(
        .truncated, "hello of \(bytes.count) bytes, shorter than the \(Self.headerSize)-byte header"
      )
    }
    guard bytes.starts(with: Self.magic) else {
      throw LivenessError(.badMagic, "not a liveness hello (bad magic or version)")
    }
    var reader = Reader(bytes: bytes, offset: Self.magic.count)
    let sender = reader.id()
    let receiver = reader.id()
    let mine = UInt32(reader.integer(4))
    let yours = UInt32(reader.integer(4))
    let stateByte = reader.byte()
    guard let state = State(rawValue: stateByte) else {
      throw LivenessError(.badState, "hello from \(sender): unknown state \(stateByte)")
    }
    let flags = reader.byte()
    guard flags == 0 else {
      throw LivenessError(.nonZeroReserved, "hello from \(sender): flags \(flags) are not zero")
    }
    let milliseconds = reader.integer(2)
    let multiplier = reader.byte()
    let count = Int(reader.byte())
    let reserved = reader.integer(2)
    guard reserved == 0 else {
      throw LivenessError(
        .nonZeroReserved, "hello from \(sender): reserved bytes \(reserved) are not zero")
    }
    guard count <= Self.maxServing else {
      throw LivenessError(
        .tooManyPorts, "hello from \(sender): \(count) serving ports, at most \(Self.maxServing)")
    }
    let expected = Self.headerSize + 16 * count
    guard bytes.count == expected else {
      let actual = bytes.count > longest ? "more than \(longest)" : "\(bytes.count)"
      throw LivenessError(
        .badLength,
        "hello from \(sender): \(actual) bytes, but \(count) serving ports make \(expected)")
    }
    var serving: [ID] = []
    serving.reserveCapacity(count)
    for _ in 0..<count { serving.append(reader.id()) }
    self.init(
      sender: sender, receiver: receiver, myDiscriminator: mine, yourDiscriminator: yours,
      state: state, interval: .milliseconds(milliseconds), multiplier: multiplier,
      serving: serving)
    try validate()
  }

  private static func append(_ id: ID, to bytes: inout [UInt8]) {
    append(id.high, width: 8, to: &bytes)
    append(id.low, width: 8, to: &bytes)
  }

  private static func append(_ value: UInt64, width: Int, to bytes: inout [UInt8]) {
    for shift in stride(from: (width - 1) * 8, through: 0, by: -8) {
      bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
    }
  }

  /// Reads big-endian fields from bytes whose length the caller has already checked.
  private struct Reader {
    let bytes: [UInt8]
    var offset: Int

    mutating func integer(_ width: Int) -> UInt64 {
      var value: UInt64 = 0
      for index in offset..<offset + width { value = value << 8 | UInt64(bytes[index]) }
      offset += width
      return value
    }

    mutating func byte() -> UInt8 { UInt8(integer(1)) }

    mutating func id() -> ID {
      let high = integer(8)
      return ID(high: high, low: integer(8))
    }
  }
}
