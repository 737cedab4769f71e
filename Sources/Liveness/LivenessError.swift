/// Why a liveness hello was refused: a datagram on the tunnel's message channel that carries
/// the liveness magic but is not a well-formed hello.
///
/// Decoding is the only thing in this module that fails; the monitor itself never throws (a
/// hello that is well-formed but not for us is ignored and counted, not an error).
public struct LivenessError: Error, CustomStringConvertible, Sendable {
  /// What was wrong with the bytes.
  public enum Code: Hashable, Sendable {
    /// Fewer bytes than the fixed header.
    case truncated
    /// The first four bytes are not "MLV\x01" (another message, or another version).
    case badMagic
    /// The state byte is not 0...3.
    case badState
    /// The flags byte or the reserved bytes are not zero (kept zero so a later version can
    /// use them and be told apart).
    case nonZeroReserved
    /// A discriminator that must be non-zero is zero.
    case zeroDiscriminator
    /// The interval is zero (or, when encoding, not a whole number of ms in 1...65535).
    case badInterval
    /// The detection multiplier is zero.
    case badMultiplier
    /// More than `LivenessHello.maxServing` serving ports.
    case tooManyPorts
    /// A serving port is listed twice.
    case duplicatePort
    /// The length does not match the header's port count.
    case badLength
  }

  /// The machine-readable reason.
  public var code: Code
  /// What is wrong, in words.
  public var message: String
  /// The underlying error, if any.
  public var cause: (any Error & Sendable)?

  /// Creates an error.
  public init(_ code: Code, _ message: String, cause: (any Error & Sendable)? = nil) {
    self.code = code
    self.message = message
    self.cause = cause
  }

  public var description: String {
    var text = "Liveness: \(message)"
    if let cause { text += ": \(cause)" }
    return text
  }
}
