import Glibc

/// Starting and reaping child processes with a clean signal state.
///
/// Why not `Foundation.Process`: it spawns from whatever thread calls it, and a child
/// inherits that thread's signal mask. The concurrency pool's threads block SIGTERM,
/// SIGALRM and most other signals, so a child started from async code inherits them
/// blocked: `terminate()` does nothing and `timeout(1)` in a script never fires. A
/// process that ignores signals it forwards (`midge-supervisor`) would pass that on
/// too. `posix_spawn` with `POSIX_SPAWN_SETSIGMASK` and `POSIX_SPAWN_SETSIGDEF` gives the
/// child an empty mask and default dispositions whatever thread spawns it, and closes
/// every descriptor above stderr in the child.
public enum Spawn {
  public struct Failure: Error, CustomStringConvertible, Sendable {
    public var description: String
  }

  /// Starts `arguments` (looked up on PATH) with `environment`. stdout and stderr go to
  /// `output` (a file, created or truncated) when given, stdin comes from /dev/null when
  /// `detachInput`; otherwise they are inherited.
  public static func start(
    _ arguments: [String], environment: [String: String], output: String? = nil,
    detachInput: Bool = false
  ) throws(Failure) -> pid_t {
    precondition(!arguments.isEmpty)
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var empty = sigset_t()
    sigemptyset(&empty)
    var all = sigset_t()
    sigfillset(&all)
    posix_spawnattr_setsigmask(&attributes, &empty)
    posix_spawnattr_setsigdefault(&attributes, &all)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    if detachInput { posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0) }
    if let output {
      posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
      posix_spawn_file_actions_adddup2(&actions, 1, 2)
    }
    // Only stdin, stdout and stderr pass to the child. Anything else the parent has open
    // (a test's UDP socket, an agent's packet sockets) would otherwise live on in the
    // child, holding ports and interfaces after the parent closed them.
    for descriptor in openDescriptors() where descriptor > 2 {
      posix_spawn_file_actions_addclose(&actions, descriptor)
    }

    let argv = arguments.map { strdup($0) } + [nil]
    let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer {
      for pointer in argv { free(pointer) }
      for pointer in envp { free(pointer) }
    }
    var pid: pid_t = 0
    let result = posix_spawnp(&pid, arguments[0], &actions, &attributes, argv, envp)
    guard result == 0 else {
      throw Failure(
        description: "cannot start \(arguments[0]): \(String(cString: strerror(result)))")
    }
    return pid
  }

  /// The descriptors open in this process now (from /proc/self/fd). One closed before the
  /// spawn is harmless: the child's close of a descriptor not open is not an error.
  static func openDescriptors() -> [Int32] {
    guard let directory = opendir("/proc/self/fd") else { return [] }
    defer { closedir(directory) }
    let own = dirfd(directory)
    var result: [Int32] = []
    while let entry = readdir(directory) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) { bytes in
        String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
      }
      if let descriptor = Int32(name), descriptor != own { result.append(descriptor) }
    }
    return result
  }

  /// The exit status of a `waitpid` status word: the code, or 128 + the signal.
  public static func exitStatus(_ raw: Int32) -> Int32 {
    let signal = raw & 0x7F
    return signal == 0 ? (raw >> 8) & 0xFF : 128 + signal
  }
}
