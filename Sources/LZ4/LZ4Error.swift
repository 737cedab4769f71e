/// Why a frame could not be decoded.
public struct LZ4Error: Error, CustomStringConvertible, Sendable, Equatable {
  public enum Code: Sendable, Hashable {
    /// Shorter than its header or its declared payload.
    case truncated
    /// Does not start with the frame magic.
    case badMagic
    /// A codec byte this reader does not know.
    case unknownCodec
    /// The payload does not decompress to the declared length.
    case corrupt
    /// The declared length is over the caller's limit.
    case tooLarge
  }

  public var code: Code
  public var message: String

  public init(_ code: Code, _ message: String) {
    self.code = code
    self.message = message
  }

  public var description: String { "LZ4: \(message)" }
}
