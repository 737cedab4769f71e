import CDatapath
import CommandSupport
import Foundation
import Glibc

/// CPU pinning for `midge-bench agent --agent-cpu`: sched_setaffinity(2) on every
/// thread of the process (threads made later inherit it from their creator), or on the
/// calling thread alone.
enum CPUAffinity {
  /// The CPUs this process may run on now.
  static func online() -> [Int] {
    var cpus = [Int32](repeating: 0, count: 1024)
    let count = midge_dp_get_affinity(&cpus, Int32(cpus.count))
    return count > 0 ? cpus[0..<Int(count)].map(Int.init) : []
  }

  /// Pins every thread of the process to `cpus`.
  static func pinProcess(to cpus: [Int]) throws {
    let tasks = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")
    for task in tasks {
      guard let tid = Int32(task) else { continue }
      try pin(tid, to: cpus)
    }
  }

  /// Pins the calling thread to `cpus`.
  static func pinThread(to cpus: [Int]) throws {
    try pin(0, to: cpus)
  }

  private static func pin(_ tid: Int32, to cpus: [Int]) throws {
    let list = cpus.map(Int32.init)
    guard midge_dp_set_affinity(tid, list, Int32(list.count)) == 0 else {
      throw CommandError("sched_setaffinity(\(tid), \(cpus)): errno \(errno)")
    }
  }
}
