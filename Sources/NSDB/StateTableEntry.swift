/// One node of a state table, decoded from its name.
///
/// The node name is `<key>,<value>,<kind>,<sequence>` where `key` and `value`
/// are escaped by ``StateTableName``, `kind` is `L` (learned, ephemeral) or
/// `P` (persistent), and the ten-digit sequence is appended by ZooKeeper.
public struct StateTableEntry: Sendable, Hashable {
  public var key: String
  public var value: String
  /// True for a persistent entry (an operator's static entry); false for a
  /// learned one, which is ephemeral and owned by the session that wrote it.
  public var persistent: Bool
  /// ZooKeeper's sequence for the node: larger is newer within one table.
  public var sequence: Int64
  /// The node's name under the table path.
  public var name: String

  public init(key: String, value: String, persistent: Bool, sequence: Int64, name: String) {
    self.key = key
    self.value = value
    self.persistent = persistent
    self.sequence = sequence
    self.name = name
  }

  /// Does `self` win over `other` for the same key? A learned entry beats a
  /// persistent one (a persistent entry only serves while nobody learned the
  /// key); between entries of one kind the newest (highest sequence) wins.
  public func supersedes(_ other: StateTableEntry) -> Bool {
    if persistent != other.persistent { return !persistent }
    return sequence > other.sequence
  }

  /// The winning entry of each key among `entries`.
  public static func resolve(_ entries: some Sequence<StateTableEntry>) -> [String: StateTableEntry]
  {
    var winners: [String: StateTableEntry] = [:]
    for entry in entries {
      if let current = winners[entry.key], !entry.supersedes(current) { continue }
      winners[entry.key] = entry
    }
    return winners
  }
}

/// The node-name codec of state tables.
///
/// Keys and values are arbitrary strings, but a node name must not contain
/// `/`, and we use `,` to separate fields; ZooKeeper also refuses control and
/// some Unicode characters. So every UTF-8 byte outside a small safe set
/// (`A-Z a-z 0-9 - _ . :`) is written as `%XX` (upper-case hex). MACs, IPv4
/// addresses and UUIDs pass through unchanged and stay readable in `zkCli`.
public enum StateTableName {
  static let learnedMark = "L"
  static let persistentMark = "P"

  static func isSafe(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
      UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"),
      UInt8(ascii: "."), UInt8(ascii: ":"):
      return true
    default:
      return false
    }
  }

  /// Escapes `text` so it contains no `,`, `/`, `%` or unsafe character.
  public static func escape(_ text: String) -> String {
    let hex = Array("0123456789ABCDEF".utf8)
    var out: [UInt8] = []
    out.reserveCapacity(text.utf8.count)
    for byte in text.utf8 {
      if isSafe(byte) {
        out.append(byte)
      } else {
        out.append(UInt8(ascii: "%"))
        out.append(hex[Int(byte >> 4)])
        out.append(hex[Int(byte & 0xF)])
      }
    }
    return String(decoding: out, as: UTF8.self)
  }

  /// Reverses ``escape(_:)``; nil for a malformed escape or invalid UTF-8.
  public static func unescape(_ text: some StringProtocol) -> String? {
    var out: [UInt8] = []
    var bytes = text.utf8.makeIterator()
    while let byte = bytes.next() {
      guard byte == UInt8(ascii: "%") else {
        out.append(byte)
        continue
      }
      guard let high = bytes.next().flatMap(hexValue), let low = bytes.next().flatMap(hexValue)
      else { return nil }
      out.append(high << 4 | low)
    }
    return String(validating: out, as: UTF8.self)
  }

  static func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
    default: return nil
    }
  }

  /// The name prefix to create with a sequential mode; ZooKeeper appends the
  /// sequence.
  public static func prefix(key: String, value: String, persistent: Bool) -> String {
    escape(key) + "," + escape(value) + ","
      + (persistent ? persistentMark : learnedMark) + ","
  }

  /// Decodes a node name; nil for a name that is not a state-table entry.
  public static func parse(_ name: String) -> StateTableEntry? {
    let fields = name.split(separator: ",", omittingEmptySubsequences: false)
    guard fields.count == 4,
      let key = unescape(fields[0]), let value = unescape(fields[1]),
      let sequence = Int64(fields[3])
    else { return nil }
    let persistent: Bool
    switch fields[2] {
    case Substring(learnedMark): persistent = false
    case Substring(persistentMark): persistent = true
    default: return nil
    }
    return StateTableEntry(
      key: key, value: value, persistent: persistent, sequence: sequence, name: name)
  }
}
