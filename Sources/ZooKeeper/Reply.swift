import CZooKeeper

/// What a C completion delivered, copied into Swift values on the library's
/// completion thread (the C buffers are only valid during the callback).
enum Reply: Sendable {
  case rc(Int32)
  case data(Int32, [UInt8], NodeStat?)
  case stat(Int32, NodeStat?)
  case string(Int32, String?)
  case children(Int32, [String], NodeStat?)
  case acl(Int32, [ZooKeeperACL], NodeStat?)

  var returnCode: Int32 {
    switch self {
    case .rc(let rc), .data(let rc, _, _), .stat(let rc, _), .string(let rc, _),
      .children(let rc, _, _), .acl(let rc, _, _):
      return rc
    }
  }
}

/// The context of one pending C call: retained when the call is made and
/// released by the completion, which the library runs exactly once (with
/// ZCLOSING or ZCONNECTIONLOSS if the handle goes away first).
final class ReplyBox: Sendable {
  let deliver: @Sendable (Reply) -> Void

  init(_ deliver: @escaping @Sendable (Reply) -> Void) { self.deliver = deliver }

  static func take(_ data: UnsafeRawPointer?) -> ReplyBox? {
    guard let data else { return nil }
    return Unmanaged<ReplyBox>.fromOpaque(data).takeRetainedValue()
  }
}

enum Completions {
  static let void: void_completion_t = { rc, data in
    ReplyBox.take(data)?.deliver(.rc(rc))
  }

  static let data: data_completion_t = { rc, value, length, stat, data in
    var bytes: [UInt8] = []
    if rc == 0, let value, length > 0 {
      bytes = Array(UnsafeRawBufferPointer(start: value, count: Int(length)))
    }
    ReplyBox.take(data)?.deliver(.data(rc, bytes, stat.map { NodeStat($0.pointee) }))
  }

  static let stat: stat_completion_t = { rc, stat, data in
    ReplyBox.take(data)?.deliver(.stat(rc, stat.map { NodeStat($0.pointee) }))
  }

  static let string: string_completion_t = { rc, value, data in
    ReplyBox.take(data)?.deliver(.string(rc, value.map { String(cString: $0) }))
  }

  static let acl: acl_completion_t = { rc, vector, stat, data in
    let entries = rc == 0 ? ZooKeeperACL.entries(vector) : []
    ReplyBox.take(data)?.deliver(.acl(rc, entries, stat.map { NodeStat($0.pointee) }))
  }

  static let children: strings_stat_completion_t = { rc, strings, stat, data in
    var names: [String] = []
    if rc == 0, let vector = strings?.pointee, let items = vector.data {
      names.reserveCapacity(Int(vector.count))
      for index in 0..<Int(max(vector.count, 0)) {
        if let item = items[index] { names.append(String(cString: item)) }
      }
    }
    names.sort()
    ReplyBox.take(data)?.deliver(.children(rc, names, stat.map { NodeStat($0.pointee) }))
  }
}

/// Calls `body` with the bytes as a C buffer; an empty buffer is passed as
/// NULL with length -1, the library's "no data".
func withCBytes<R>(_ bytes: [UInt8], _ body: (UnsafePointer<CChar>?, Int32) -> R) -> R {
  if bytes.isEmpty { return body(nil, -1) }
  return bytes.withUnsafeBytes { raw in
    body(raw.baseAddress?.assumingMemoryBound(to: CChar.self), Int32(raw.count))
  }
}
