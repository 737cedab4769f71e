import CDatapath
import Glibc

/// Opening and configuring the packet and tunnel sockets, and asking about interfaces.
extension Syscall {
  /// socket(2); returns the descriptor.
  static func socket(domain: Int32, type: Int32, protocol: Int32) throws(SystemCallError)
    -> Int32
  {
    try retryingOnInterrupt("socket") { Glibc.socket(domain, type, `protocol`) }
  }

  /// bind(2) to `address`, a `sockaddr_ll`, `sockaddr_in` or other socket address.
  static func bind<Address>(_ descriptor: Int32, to address: Address) throws(SystemCallError) {
    var address = address
    _ = try retryingOnInterrupt("bind") {
      withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
          Glibc.bind(descriptor, $0, socklen_t(MemoryLayout<Address>.size))
        }
      }
    }
  }

  /// getsockname(2) into `address`, a socket address of the type the socket was bound
  /// with.
  static func socketName<Address>(_ descriptor: Int32, into address: inout Address)
    throws(SystemCallError)
  {
    var length = socklen_t(MemoryLayout<Address>.size)
    _ = try retryingOnInterrupt("getsockname") {
      withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
          Glibc.getsockname(descriptor, $0, &length)
        }
      }
    }
  }

  /// setsockopt(2) of `option` at `level` to `value`; `name` is the option's name for the
  /// error ("PACKET_VNET_HDR").
  static func setOption<Value: BitwiseCopyable>(
    _ descriptor: Int32, level: Int32, option: Int32, to value: Value, name: String
  ) throws(SystemCallError) {
    do throws(SystemCallError) {
      _ = try retryingOnInterrupt("setsockopt") {
        withUnsafeBytes(of: value) {
          Glibc.setsockopt(descriptor, level, option, $0.baseAddress, socklen_t($0.count))
        }
      }
    } catch {
      throw SystemCallError(call: "setsockopt(\(name))", errno: error.errno)
    }
  }

  /// if_nametoindex(3): the index of interface `name` (ENODEV when there is none).
  static func interfaceIndex(_ name: String) throws(SystemCallError) -> UInt32 {
    while true {
      let index = if_nametoindex(name)
      if index != 0 { return index }
      let code = Glibc.errno
      // No errno is set on some C libraries when the name is unknown.
      if code != EINTR {
        throw SystemCallError(call: "if_nametoindex", errno: code == 0 ? ENODEV : code)
      }
    }
  }

  /// if_nameindex(3): the names of every interface of this namespace, in one netlink dump.
  static func interfaceNames() throws(SystemCallError) -> Set<String> {
    guard let list = if_nameindex() else {
      throw SystemCallError(call: "if_nameindex", errno: Glibc.errno)
    }
    defer { if_freenameindex(list) }
    var names: Set<String> = []
    var entry = list
    while entry.pointee.if_index != 0, let name = entry.pointee.if_name {
      names.insert(String(cString: name))
      entry += 1
    }
    return names
  }

  /// ioctl(SIOCGIFFLAGS) through `descriptor`: interface `name`'s IFF_* flags (ENODEV
  /// once it is gone).
  static func interfaceFlags(_ descriptor: Int32, name: String) throws(SystemCallError) -> Int32 {
    var flags: Int32 = 0
    _ = try retryingOnInterrupt("ioctl(SIOCGIFFLAGS)") {
      name.withCString { midge_dp_interface_flags(descriptor, $0, &flags) }
    }
    return flags
  }
}
