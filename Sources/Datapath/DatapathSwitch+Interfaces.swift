import Glibc

extension DatapathSwitch {
  /// The names of the network interfaces of this namespace, from one `if_nameindex(3)`
  /// call (a netlink dump). An agent bound to thousands of ports whose interfaces do not
  /// exist yet checks this set instead of trying each one: a failed attach costs a
  /// socket, an ioctl and a close per port and per poll. `nil` if the call fails (the
  /// caller then tries every interface as before).
  public static func interfaceNames() -> Set<String>? {
    guard let list = if_nameindex() else { return nil }
    defer { if_freenameindex(list) }
    var names: Set<String> = []
    var entry = list
    while entry.pointee.if_index != 0, let name = entry.pointee.if_name {
      names.insert(String(cString: name))
      entry += 1
    }
    return names
  }
}
