/// An ICMP message type.
public struct ICMPType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
  public var rawValue: UInt8
  public init(rawValue: UInt8) { self.rawValue = rawValue }

  /// 0.
  public static let echoReply = ICMPType(rawValue: 0)
  /// 3.
  public static let destinationUnreachable = ICMPType(rawValue: 3)
  /// 4 (deprecated, still an error message).
  public static let sourceQuench = ICMPType(rawValue: 4)
  /// 5.
  public static let redirect = ICMPType(rawValue: 5)
  /// 8.
  public static let echoRequest = ICMPType(rawValue: 8)
  /// 11.
  public static let timeExceeded = ICMPType(rawValue: 11)
  /// 12.
  public static let parameterProblem = ICMPType(rawValue: 12)

  /// True for echo request and reply, the messages with an identifier.
  public var isEcho: Bool { self == .echoRequest || self == .echoReply }
  /// True for error messages, which quote the datagram that caused them and must never
  /// themselves trigger an ICMP error (RFC 1122 §3.2.2).
  public var isError: Bool {
    switch self {
    case .destinationUnreachable, .sourceQuench, .redirect, .timeExceeded, .parameterProblem:
      return true
    default:
      return false
    }
  }

  public var description: String {
    switch self {
    case .echoReply: return "echo-reply"
    case .destinationUnreachable: return "unreachable"
    case .sourceQuench: return "source-quench"
    case .redirect: return "redirect"
    case .echoRequest: return "echo-request"
    case .timeExceeded: return "time-exceeded"
    case .parameterProblem: return "parameter-problem"
    default: return String(rawValue)
    }
  }
}
