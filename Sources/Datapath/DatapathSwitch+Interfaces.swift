extension DatapathSwitch {
  /// The names of the network interfaces of this namespace, from one `if_nameindex(3)`
  /// call (a netlink dump). An agent bound to thousands of ports whose interfaces do not
  /// exist yet checks this set instead of trying each one: a failed attach costs a
  /// socket, an ioctl and a close per port and per poll. A caller that gets an error can
  /// still try every interface, as before.
  public static func interfaceNames() throws(DatapathError) -> Set<String> {
    do throws(SystemCallError) {
      return try Syscall.interfaceNames()
    } catch {
      throw DatapathError(.interfaceNotFound, "listing the interfaces", cause: error)
    }
  }
}
