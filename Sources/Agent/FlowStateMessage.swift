import Addresses
import AgentCore
import LZ4
import Packets
import Simulation
import Topology

/// Connection-tracking entries and NAT bindings one agent sends another over the tunnel
/// (key `DatapathSwitch.messageTunnelKey`), so that the host which simulates a connection's
/// reply — or takes over a port the connection crosses — knows the connection.
///
/// Wire format: "MFS" and a version byte (1), then an LZ4 frame (`LZ4Frame`) of fixed-size
/// records, big-endian:
///
///     conntrack  tag 1 | device id (16) | tuple (13)                                 30 bytes
///     nat        tag 2 | forward key (30) | forward (6) | reverse key (30) | reverse (6)   73 bytes
///     hand-over  tag 3 | port id (16): the sender has sent all it had of this port's
///                connections (a port that moved to the receiver)               17 bytes
///     owner      tag 4 | port id (16), first: the entries are this port's connections,
///                and the port moved to the receiver, which owns them now       17 bytes
///     closing    tag 5 | device id (16) | tuple (13): this conntrack entry's
///                connection saw FIN or RST                                      30 bytes
///                tag 6 | forward key (30): the same for a NAT binding           31 bytes
///     key        kind (1) | device id (16) | tuple (13)
///     tuple      source (4) | destination (4) | protocol (1) | source port (2) | destination port (2)
///     translation  address (4) | port (2)
///
/// Decoding validates everything and throws on anything else: a corrupt or hostile
/// datagram costs nothing but its own drop.
public enum FlowStateMessage {
  static let magic: [UInt8] = [0x4D, 0x46, 0x53, 0x01]  // "MFS", version 1

  /// Why a message could not be read.
  public struct DecodeError: Error, Hashable, Sendable, CustomStringConvertible {
    public var description: String
  }

  /// The message for `changes` (only conntrack entries and NAT bindings are carried),
  /// ending with the hand-over mark of `handOver` if given.
  public static func encode(
    _ changes: [StateChange], handOver: ID? = nil, owner: ID? = nil,
    closing: [FlowStateKey] = []
  ) -> [UInt8] {
    var records: [UInt8] = []
    records.reserveCapacity(changes.count * 73 + 34)
    if let owner {
      records.append(4)
      append(owner, to: &records)
    }
    for change in changes {
      switch change {
      case .conntrack(let key):
        records.append(1)
        append(key.device, to: &records)
        append(key.tuple, to: &records)
      case .natBinding(let binding):
        records.append(2)
        append(binding.forwardKey, to: &records)
        append(binding.forward, to: &records)
        append(binding.reverseKey, to: &records)
        append(binding.reverse, to: &records)
      case .macLearned, .arpLearned:
        continue
      }
    }
    for key in closing {
      switch key {
      case .conntrack(let key):
        records.append(5)
        append(key.device, to: &records)
        append(key.tuple, to: &records)
      case .nat(let key):
        records.append(6)
        append(key, to: &records)
      }
    }
    if let handOver {
      records.append(3)
      append(handOver, to: &records)
    }
    return magic + LZ4Frame.encode(records)
  }

  /// The state changes in `bytes` (hand-over marks are read and left out).
  public static func decode(_ bytes: [UInt8]) throws(DecodeError) -> [StateChange] {
    try decodeMessage(bytes).changes
  }

  /// What one message carries.
  public struct Contents: Sendable {
    /// Conntrack entries and NAT bindings.
    public var changes: [StateChange] = []
    /// The ports whose hand-over it completes.
    public var handOvers: [ID] = []
    /// The port whose connections the changes are, if it moved to the receiver.
    public var owner: ID?
    /// Entries whose connection is closing.
    public var closing: [FlowStateKey] = []
  }

  /// Everything in `bytes`.
  public static func decodeMessage(_ bytes: [UInt8]) throws(DecodeError) -> Contents {
    guard bytes.count >= magic.count, Array(bytes.prefix(magic.count)) == magic else {
      throw DecodeError(description: "not a flow-state message (bad magic or version)")
    }
    let records: [UInt8]
    do {
      records = try LZ4Frame.decode(Array(bytes.dropFirst(magic.count)), maximumLength: 1 << 20)
    } catch {
      throw DecodeError(description: "flow-state message: \(error)")
    }
    var reader = Reader(bytes: records)
    var contents = Contents()
    while !reader.atEnd {
      switch try reader.byte() {
      case 1:
        let device = try reader.id()
        contents.changes.append(
          .conntrack(ConntrackKey(tuple: try reader.tuple(), device: device)))
      case 2:
        let forwardKey = try reader.natKey()
        let forward = try reader.translation()
        let reverseKey = try reader.natKey()
        let reverse = try reader.translation()
        contents.changes.append(
          .natBinding(
            NATBinding(
              forwardKey: forwardKey, forward: forward, reverseKey: reverseKey, reverse: reverse)))
      case 3:
        contents.handOvers.append(try reader.id())
      case 4:
        guard contents.changes.isEmpty, contents.owner == nil else {
          throw DecodeError(description: "flow-state message: owner record not first")
        }
        contents.owner = try reader.id()
      case 5:
        let device = try reader.id()
        contents.closing.append(.conntrack(ConntrackKey(tuple: try reader.tuple(), device: device)))
      case 6:
        contents.closing.append(.nat(try reader.natKey()))
      case let tag:
        throw DecodeError(description: "flow-state message: unknown record type \(tag)")
      }
    }
    return contents
  }

  private static func append(_ id: ID, to bytes: inout [UInt8]) {
    append(id.high, 8, to: &bytes)
    append(id.low, 8, to: &bytes)
  }

  private static func append(_ tuple: FlowTuple, to bytes: inout [UInt8]) {
    append(UInt64(tuple.source.rawValue), 4, to: &bytes)
    append(UInt64(tuple.destination.rawValue), 4, to: &bytes)
    bytes.append(tuple.ipProtocol)
    append(UInt64(tuple.sourcePort), 2, to: &bytes)
    append(UInt64(tuple.destinationPort), 2, to: &bytes)
  }

  private static func append(_ key: NATKey, to bytes: inout [UInt8]) {
    bytes.append(key.kind.rawValue)
    append(key.device, to: &bytes)
    append(key.tuple, to: &bytes)
  }

  private static func append(_ translation: NATTranslation, to bytes: inout [UInt8]) {
    append(UInt64(translation.address.rawValue), 4, to: &bytes)
    append(UInt64(translation.port), 2, to: &bytes)
  }

  private static func append(_ value: UInt64, _ width: Int, to bytes: inout [UInt8]) {
    for shift in stride(from: (width - 1) * 8, through: 0, by: -8) {
      bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
    }
  }

  /// Reads records, throwing on a short or malformed one.
  struct Reader {
    let bytes: [UInt8]
    var offset = 0

    var atEnd: Bool { offset >= bytes.count }

    mutating func integer(_ width: Int) throws(DecodeError) -> UInt64 {
      guard offset + width <= bytes.count else {
        throw DecodeError(description: "flow-state message: truncated record")
      }
      var value: UInt64 = 0
      for index in offset..<offset + width { value = value << 8 | UInt64(bytes[index]) }
      offset += width
      return value
    }

    mutating func byte() throws(DecodeError) -> UInt8 { UInt8(try integer(1)) }

    mutating func id() throws(DecodeError) -> ID {
      let high = try integer(8)
      return ID(high: high, low: try integer(8))
    }

    mutating func tuple() throws(DecodeError) -> FlowTuple {
      let source = IPv4Address(rawValue: UInt32(try integer(4)))
      let destination = IPv4Address(rawValue: UInt32(try integer(4)))
      let proto = try byte()
      let sourcePort = UInt16(try integer(2))
      return FlowTuple(
        source: source, destination: destination, ipProtocol: proto, sourcePort: sourcePort,
        destinationPort: UInt16(try integer(2)))
    }

    mutating func natKey() throws(DecodeError) -> NATKey {
      guard let kind = NATKey.Kind(rawValue: try byte()) else {
        throw DecodeError(description: "flow-state message: unknown NAT kind")
      }
      let device = try id()
      return NATKey(kind: kind, device: device, tuple: try tuple())
    }

    mutating func translation() throws(DecodeError) -> NATTranslation {
      let address = IPv4Address(rawValue: UInt32(try integer(4)))
      return NATTranslation(address: address, port: UInt16(try integer(2)))
    }
  }
}
