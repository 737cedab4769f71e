import CommandSupport
import Glibc

/// A veth pair in the root namespace for `midge-bench agent`: the agent attaches one
/// end, the benchmark writes frames into the other. No addresses, no routes, IPv6 off,
/// so nothing but the benchmark's own frames crosses it and the root namespace's routing
/// is untouched. Removed by `remove()` (the benchmark calls it on every exit path).
struct BenchVeth {
  let agentSide: String
  let injectSide: String

  init(_ name: String) throws {
    agentSide = name
    injectSide = name + "p"
    for command in [
      "ip link add \(agentSide) type veth peer name \(injectSide)",
      "sysctl -qw net.ipv6.conf.\(agentSide).disable_ipv6=1",
      "sysctl -qw net.ipv6.conf.\(injectSide).disable_ipv6=1",
      "ip link set \(agentSide) up", "ip link set \(injectSide) up",
    ] {
      guard system(command + " >/dev/null 2>&1") == 0 else {
        remove()
        throw CommandError("`\(command)` failed (the agent benchmark needs root)")
      }
    }
  }

  func remove() {
    _ = system("ip link del \(agentSide) >/dev/null 2>&1")
  }
}
