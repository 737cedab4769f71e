import Glibc

/// The clock the packet loops stamp flows with: CLOCK_MONOTONIC in nanoseconds.
public enum DatapathClock {
  /// Now, in nanoseconds since an arbitrary start.
  public static func now() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) &* 1_000_000_000 &+ UInt64(time.tv_nsec)
  }
}
