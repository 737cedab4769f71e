import Topology

/// The one message of the liveness protocol: "I am `sender`, this is what I know of our
/// session, and these are the gateway ports I serve right now".
///
/// Hellos ride in the agents' existing tunnel message channel, next to flow-state messages;
/// the shell tells the two apart by their first four bytes (`hasMagic`). It is BFD's control
/// packet (RFC 5880 §4.1) cut down to what Midge needs: no authentication (the tunnel network
/// is the trust boundary, as for flow state), no poll/final and no echo, one interval field
/// (the sender's transmit interval, which is also what it expects to receive at), and host
/// ids where BFD has addresses so the session survives an underlay address change.
///
/// The serving list lets the peers of a gateway host learn which ports it holds without a
/// round trip to the NSDB; the monitor only carries it, it never acts on it.
///
/// Wire layout, big-endian, 52 bytes plus 16 per serving port:
///
///     magic "MLV\x01" (4) | sender (16) | receiver (16) | my discriminator (4)
///     | your discriminator (4) | state (1) | flags (1, zero) | interval ms (2)
///     | multiplier (1) | port count (1) | reserved (2, zero) | count x port id (16)
public struct LivenessHello: Sendable, Equatable {
  /// The sender's session state (RFC 5880's, with the same numbers).
  public enum State: UInt8, Sendable {
    /// Administratively down: decodable so a later version can use it; Midge never sends it.
    case adminDown = 0
    case down = 1
    case initializing = 2
    case up = 3
  }

  /// "MLV" and version 1.
  public static let magic: [UInt8] = [0x4D, 0x4C, 0x56, 0x01]
  /// The most serving ports one hello carries: keeps a hello (1,076 bytes) inside one
  /// underlay packet with room for the tunnel headers.
  public static let maxServing = 64
  /// The fixed part of the wire form.
  public static let headerSize = 52

  /// The host that sent this hello.
  public var sender: ID
  /// The host it was meant for; `ID.zero` when the sender does not know it yet.
  public var receiver: ID
  /// The sender's discriminator for this session; never zero. A new value means the sender
  /// restarted (or stalled), so the receiver must not trust the old session.
  public var myDiscriminator: UInt32
  /// The receiver's discriminator as last heard by the sender; 0 until it has heard one.
  public var yourDiscriminator: UInt32
  /// The sender's session state.
  public var state: State
  /// The sender's transmit interval, carried in whole milliseconds (1...65535).
  public var interval: Duration
  /// The sender's detection multiplier (1...255): the receiver declares the sender down after
  /// this many intervals of silence.
  public var multiplier: UInt8
  /// The gateway ports the sender serves now: at most `maxServing`, no duplicates.
  public var serving: [ID]

  /// A hello; nothing is checked here (`validate()` does that, `encoded()` does not).
  public init(
    sender: ID, receiver: ID = .zero, myDiscriminator: UInt32, yourDiscriminator: UInt32 = 0,
    state: State, interval: Duration, multiplier: UInt8, serving: [ID] = []
  ) {
    self.sender = sender
    self.receiver = receiver
    self.myDiscriminator = myDiscriminator
    self.yourDiscriminator = yourDiscriminator
    self.state = state
    self.interval = interval
    self.multiplier = multiplier
    self.serving = serving
  }

  /// The interval in whole milliseconds, saturated to 0...65535 (what goes on the wire).
  var intervalMilliseconds: UInt16 {
    let (seconds, attoseconds) = interval.components
    guard seconds >= 0 else { return 0 }
    guard seconds < 66 else { return UInt16.max }
    let milliseconds = seconds * 1000 + attoseconds / 1_000_000_000_000_000
    return UInt16(clamping: milliseconds)
  }

  /// The interval field as written: the whole milliseconds, or 0 (which the decoder
  /// refuses) when the interval is not a whole number of ms in 1...65535.
  var wireInterval: UInt16 {
    let milliseconds = intervalMilliseconds
    return interval == .milliseconds(milliseconds) ? milliseconds : 0
  }

  /// Throws unless this hello obeys every rule the decoder enforces, so that it encodes to
  /// bytes that decode back to an equal value. Decoding runs the same checks.
  public func validate() throws(LivenessError) {
    guard myDiscriminator != 0 else {
      throw LivenessError(.zeroDiscriminator, "hello from \(sender): my discriminator is zero")
    }
    let milliseconds = intervalMilliseconds
    guard milliseconds != 0, interval == .milliseconds(milliseconds) else {
      throw LivenessError(
        .badInterval,
        "hello from \(sender): interval \(interval) is not a whole number of ms in 1...65535")
    }
    guard multiplier != 0 else {
      throw LivenessError(.badMultiplier, "hello from \(sender): multiplier is zero")
    }
    guard serving.count <= Self.maxServing else {
      throw LivenessError(
        .tooManyPorts,
        "hello from \(sender): \(serving.count) serving ports, at most \(Self.maxServing)")
    }
    var seen = Set<ID>(minimumCapacity: serving.count)
    for port in serving where !seen.insert(port).inserted {
      throw LivenessError(.duplicatePort, "hello from \(sender): serving port \(port) twice")
    }
  }
}
