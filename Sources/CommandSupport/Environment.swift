#if canImport(Glibc)
  import Glibc
#endif

/// Defaults that come from the environment, the same for every Midge command.
public enum Environment {
  /// `$MIDGE_ZK`, else ZooKeeper's usual local address.
  public static var zookeeper: String {
    if let value = getenv("MIDGE_ZK") { return String(cString: value) }
    return "127.0.0.1:2181"
  }
}
