/// The TCP control bits, including ECN's ECE/CWR and the historic NS bit.
public struct TCPFlags: OptionSet, Hashable, Sendable, CustomStringConvertible {
  public var rawValue: UInt16
  public init(rawValue: UInt16) { self.rawValue = rawValue }

  public static let fin = TCPFlags(rawValue: 0x001)
  public static let syn = TCPFlags(rawValue: 0x002)
  public static let rst = TCPFlags(rawValue: 0x004)
  public static let psh = TCPFlags(rawValue: 0x008)
  public static let ack = TCPFlags(rawValue: 0x010)
  public static let urg = TCPFlags(rawValue: 0x020)
  public static let ece = TCPFlags(rawValue: 0x040)
  public static let cwr = TCPFlags(rawValue: 0x080)
  public static let ns = TCPFlags(rawValue: 0x100)

  /// Names joined by '|', e.g. "syn|ack"; "none" when empty.
  public var description: String {
    let names: [(TCPFlags, String)] = [
      (.fin, "fin"), (.syn, "syn"), (.rst, "rst"), (.psh, "psh"), (.ack, "ack"), (.urg, "urg"),
      (.ece, "ece"), (.cwr, "cwr"), (.ns, "ns"),
    ]
    let set = names.filter { contains($0.0) }.map(\.1)
    return set.isEmpty ? "none" : set.joined(separator: "|")
  }
}
