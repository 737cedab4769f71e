import Addresses
import SwiftProtobuf

/// The NSDB wire format of model objects: protobuf (Proto/midge_topology.proto).
///
/// Each model type maps 1:1 to a message. Decoding is strict about values
/// that would break invariants of the value types (a prefix length over 32, a
/// port number over 65535, a missing id) and throws ``WireError`` for them,
/// so corrupt bytes in a znode become an error, never a trap. Unknown fields
/// are tolerated, so older readers accept objects written by newer ones.
public protocol WireCodable: ModelObject {
  /// The object as protobuf bytes.
  func wireBytes() throws(WireError) -> [UInt8]
  /// Decodes protobuf bytes written by `wireBytes()` (of this or a newer version).
  init(wireBytes: [UInt8]) throws(WireError)
}

/// Why bytes could not be decoded into a model object.
public struct WireError: Error, CustomStringConvertible, Sendable {
  public enum Code: Sendable, Hashable {
    /// Not a valid protobuf message of the expected type.
    case malformed
    /// A required field (the id, say) is missing.
    case missingField
    /// A field holds a value outside what the model allows.
    case invalidValue
    /// Encoding failed (should not happen for valid values).
    case encoding
  }

  public var code: Code
  public var message: String
  public var cause: (any Error)?

  public init(_ code: Code, _ message: String, cause: (any Error)? = nil) {
    self.code = code
    self.message = message
    self.cause = cause
  }

  public var description: String {
    var text = "wire format: \(message)"
    if let cause { text += ": \(cause)" }
    return text
  }
}

enum Wire {
  static func encode(_ message: some SwiftProtobuf.Message) throws(WireError) -> [UInt8] {
    do {
      return try message.serializedBytes()
    } catch {
      throw WireError(.encoding, "cannot encode \(type(of: message))", cause: error)
    }
  }

  static func decode<M: SwiftProtobuf.Message>(_ type: M.Type, _ bytes: [UInt8]) throws(WireError)
    -> M
  {
    do {
      return try M(serializedBytes: bytes)
    } catch {
      throw WireError(.malformed, "bytes are not a valid \(M.protoMessageName)", cause: error)
    }
  }

  static func id(_ uuid: Midge_Topology_V1_UUID) -> ID {
    ID(high: uuid.high, low: uuid.low)
  }

  static func uuid(_ id: ID) -> Midge_Topology_V1_UUID {
    var uuid = Midge_Topology_V1_UUID()
    uuid.high = id.high
    uuid.low = id.low
    return uuid
  }

  static func uuid(_ id: ID?) -> Midge_Topology_V1_UUID? { id.map(uuid) }

  static func requiredID(_ has: Bool, _ uuid: Midge_Topology_V1_UUID, _ what: String)
    throws(WireError) -> ID
  {
    guard has else { throw WireError(.missingField, "\(what) is missing") }
    return id(uuid)
  }

  static func ids(_ uuids: [Midge_Topology_V1_UUID]) -> [ID] { uuids.map(id) }

  static func prefix(_ address: IPv4Prefix) -> Midge_Topology_V1_IPv4Prefix {
    var message = Midge_Topology_V1_IPv4Prefix()
    message.address = address.address.rawValue
    message.length = UInt32(address.length)
    return message
  }

  static func prefix(_ message: Midge_Topology_V1_IPv4Prefix, _ what: String) throws(WireError)
    -> IPv4Prefix
  {
    guard message.length <= 32 else {
      throw WireError(.invalidValue, "\(what) has prefix length \(message.length) (over 32)")
    }
    return IPv4Prefix(IPv4Address(rawValue: message.address), length: Int(message.length))
  }

  static func port(_ value: UInt32, _ what: String) throws(WireError) -> UInt16 {
    guard let port = UInt16(exactly: value) else {
      throw WireError(.invalidValue, "\(what) is \(value) (over 65535)")
    }
    return port
  }

  static func byte(_ value: UInt32, _ what: String) throws(WireError) -> UInt8 {
    guard let byte = UInt8(exactly: value) else {
      throw WireError(.invalidValue, "\(what) is \(value) (over 255)")
    }
    return byte
  }

  static func range(_ message: Midge_Topology_V1_PortRange, _ what: String) throws(WireError)
    -> ClosedRange<UInt16>
  {
    let from = try port(message.from, what)
    let to = try port(message.to, what)
    guard from <= to else {
      throw WireError(.invalidValue, "\(what) runs from \(from) down to \(to)")
    }
    return from...to
  }

  static func range(_ range: ClosedRange<UInt16>) -> Midge_Topology_V1_PortRange {
    var message = Midge_Topology_V1_PortRange()
    message.from = UInt32(range.lowerBound)
    message.to = UInt32(range.upperBound)
    return message
  }

  static func natTarget(_ target: NatTarget) -> Midge_Topology_V1_NatTarget {
    var message = Midge_Topology_V1_NatTarget()
    message.addressFrom = target.addressFrom.rawValue
    message.addressTo = target.addressTo.rawValue
    message.portFrom = UInt32(target.portFrom)
    message.portTo = UInt32(target.portTo)
    return message
  }

  static func natTarget(_ message: Midge_Topology_V1_NatTarget) throws(WireError) -> NatTarget {
    NatTarget(
      addressFrom: IPv4Address(rawValue: message.addressFrom),
      addressTo: IPv4Address(rawValue: message.addressTo),
      portFrom: try port(message.portFrom, "NAT target port"),
      portTo: try port(message.portTo, "NAT target port"))
  }
}
