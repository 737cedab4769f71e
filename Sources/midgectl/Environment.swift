#if canImport(Glibc)
  import Glibc
#endif

/// Defaults that come from the environment.
enum Environment {
  /// `$MIDGE_ZK`, else ZooKeeper's usual local address.
  static var zookeeper: String {
    if let value = getenv("MIDGE_ZK") { return String(cString: value) }
    return "127.0.0.1:2181"
  }
}
