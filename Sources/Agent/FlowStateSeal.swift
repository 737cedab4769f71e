import Crypto
import NSDB

/// Authenticates flow-state messages between agents with the tunnel zone's key
/// (`NSDB.TunnelKeyList`), so a datagram nobody with the key made changes nothing.
///
/// A sealed message is version 2 of `FlowStateMessage`'s format:
///
///     "MFS" 0x02 | key id (1) | the version-1 message after its magic | tag (16)
///
/// The tag is HMAC-SHA256 over everything before it, cut to 16 bytes. The receiver checks
/// it with the key the id names, among the keys it accepts (the signing one and the one
/// before it); without keys, messages go unsealed (version 1) and only unsealed ones are
/// taken.
public struct FlowStateSeal: Sendable {
  static let version2: [UInt8] = [0x4D, 0x46, 0x53, 0x02]
  static let tagLength = 16

  /// Key bytes by id (a `SymmetricKey` is made per use: it is not `Sendable`).
  let keys: [UInt8: [UInt8]]
  let signing: UInt8?

  public init(_ list: TunnelKeyList = TunnelKeyList()) {
    var keys: [UInt8: [UInt8]] = [:]
    for key in list.keys {
      if let bytes = key.bytes { keys[key.id] = bytes }
    }
    self.keys = keys
    self.signing = list.signing.flatMap { keys[$0.id] == nil ? nil : $0.id }
  }

  /// Whether messages are sealed.
  public var isEnabled: Bool { signing != nil }

  /// The message to send: `message` (version 1) sealed with the signing key, or as it is.
  public func seal(_ message: [UInt8]) -> [UInt8] {
    guard let id = signing, let key = keys[id], message.count >= 4 else { return message }
    var sealed = Self.version2 + [id]
    sealed += message.dropFirst(4)
    let tag = HMAC<SHA256>.authenticationCode(for: sealed, using: SymmetricKey(data: key))
    sealed += Array(tag).prefix(Self.tagLength)
    return sealed
  }

  /// The version-1 message inside `bytes`, if its seal holds (or, without keys, if it is
  /// unsealed).
  public func open(_ bytes: [UInt8]) throws(FlowStateMessage.DecodeError) -> [UInt8] {
    guard isEnabled else {
      guard !bytes.starts(with: Self.version2) else {
        throw FlowStateMessage.DecodeError(
          description: "a sealed flow-state message, and this host has no tunnel key")
      }
      return bytes
    }
    guard bytes.count > 5 + Self.tagLength, bytes.starts(with: Self.version2) else {
      throw FlowStateMessage.DecodeError(description: "an unsealed flow-state message")
    }
    guard let key = keys[bytes[4]] else {
      throw FlowStateMessage.DecodeError(
        description: "a flow-state message sealed with unknown key \(bytes[4])")
    }
    let body = bytes.prefix(bytes.count - Self.tagLength)
    let tag = bytes.suffix(Self.tagLength)
    let expected = Array(
      HMAC<SHA256>.authenticationCode(for: Array(body), using: SymmetricKey(data: key))
    )
    .prefix(Self.tagLength)
    // Constant time: every byte is compared whatever the first difference.
    var difference: UInt8 = 0
    for (a, b) in zip(tag, expected) { difference |= a ^ b }
    guard difference == 0 else {
      throw FlowStateMessage.DecodeError(description: "a flow-state message whose MAC is wrong")
    }
    return FlowStateMessage.magic + Array(body.dropFirst(5))
  }
}
