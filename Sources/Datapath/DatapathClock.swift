/// The clock the packet loops stamp flows with: CLOCK_MONOTONIC in nanoseconds.
public enum DatapathClock {
  /// Now, in nanoseconds since an arbitrary start.
  @inline(__always)
  public static func now() -> UInt64 {
    Syscall.monotonicNanoseconds()
  }
}
