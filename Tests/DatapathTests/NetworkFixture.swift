import Addresses
import Datapath
import Foundation
import MidgeTestSupport
import Packets
import Synchronization

/// Runs a command with a time limit; returns its exit status and combined output.
@discardableResult
func shell(_ arguments: [String], timeout: Double = 15) -> (status: Int32, output: String) {
  runCommand(arguments, timeout: timeout)
}

/// "VMs" as network namespaces, each joined to the root namespace by a veth pair whose
/// root-side end the datapath attaches to. Removes everything it created on `cleanUp()`
/// (also called by deinit), even after failures. Tenant addresses are 10.x, inside the
/// namespaces only; the root namespace gets no addresses and no routes.
final class NetworkFixture: @unchecked Sendable {
  struct VM {
    let namespace: String
    let rootInterface: String
    let address: IPv4Address
  }

  private let suffix: String
  private(set) var vms: [VM] = []
  private var cleaned = false

  init() {
    suffix = String(UInt32.random(in: 0..<0xFFFF_FFFF), radix: 16)
  }

  deinit { cleanUp() }

  /// Creates namespace "midge-t-<random>-<index>" with eth0 at `address`/24.
  func addVM(_ address: IPv4Address) throws -> VM {
    let index = vms.count
    let namespace = "midge-t-\(suffix)-\(index)"
    let rootInterface = "mt\(suffix)\(index)"
    let vm = VM(namespace: namespace, rootInterface: rootInterface, address: address)
    vms.append(vm)
    let steps: [[String]] = [
      ["ip", "netns", "add", namespace],
      [
        "ip", "link", "add", rootInterface, "type", "veth", "peer", "name", "eth0", "netns",
        namespace,
      ],
      ["ip", "netns", "exec", namespace, "ip", "link", "set", "lo", "up"],
      ["ip", "netns", "exec", namespace, "ip", "addr", "add", "\(address)/24", "dev", "eth0"],
      ["ip", "netns", "exec", namespace, "ip", "link", "set", "eth0", "up"],
      ["ip", "link", "set", rootInterface, "up"],
    ]
    // Keep IPv6 autoconfiguration chatter off the datapath port (our interface only).
    try? "1".write(
      toFile: "/proc/sys/net/ipv6/conf/\(rootInterface)/disable_ipv6", atomically: false,
      encoding: .utf8)
    for step in steps {
      let result = shell(step)
      guard result.status == 0 else {
        throw FixtureError(message: "\(step.joined(separator: " ")): \(result.output)")
      }
    }
    return vm
  }

  /// Pings `destination` from `vm`: `count` echoes, bounded in time.
  func ping(from vm: VM, to destination: IPv4Address, count: Int = 3) -> Bool {
    shell(
      [
        "timeout", "15", "ip", "netns", "exec", vm.namespace, "ping", "-n", "-c", "\(count)",
        "-i", "0.2", "-W", "2", "\(destination)",
      ], timeout: 20
    ).status == 0
  }

  /// Removes every namespace and veth this fixture made.
  func cleanUp() {
    guard !cleaned else { return }
    cleaned = true
    for vm in vms {
      shell(["ip", "link", "del", vm.rootInterface])
      shell(["ip", "netns", "del", vm.namespace])
    }
  }
}

struct FixtureError: Error, CustomStringConvertible {
  var message: String
  var description: String { message }
}

/// A UDP socket made inside a namespace (it stays there), for offload tests.
struct NamespacedUDPSocket: ~Copyable {
  let descriptor: Int32

  init(namespace: String, address: IPv4Address, port: UInt16) throws {
    let fd = try NetworkNamespace.withNamespace(namespace) {
      socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    }
    guard fd >= 0 else { throw FixtureError(message: "socket in \(namespace): \(errno)") }
    var local = sockaddr_in()
    local.sin_family = sa_family_t(AF_INET)
    local.sin_port = port.bigEndian
    local.sin_addr = in_addr(s_addr: address.rawValue.bigEndian)
    let bound = withUnsafePointer(to: &local) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    guard bound == 0 else {
      close(fd)
      throw FixtureError(message: "bind in \(namespace): \(errno)")
    }
    var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    descriptor = fd
  }

  deinit { close(descriptor) }

  func send(_ payload: [UInt8], to address: IPv4Address, port: UInt16) {
    var remote = sockaddr_in()
    remote.sin_family = sa_family_t(AF_INET)
    remote.sin_port = port.bigEndian
    remote.sin_addr = in_addr(s_addr: address.rawValue.bigEndian)
    _ = payload.withUnsafeBytes { bytes in
      withUnsafePointer(to: &remote) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
          sendto(
            descriptor, bytes.baseAddress, bytes.count, 0, $0,
            socklen_t(MemoryLayout<sockaddr_in>.size))
        }
      }
    }
  }

  /// Receives one datagram, or nil after the 200 ms timeout.
  func receive() -> [UInt8]? {
    var buffer = [UInt8](repeating: 0, count: 2_048)
    let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
    guard count >= 0 else { return nil }
    return Array(buffer[0..<count])
  }
}

/// A test's stand-in for the agent: on a miss, installs a flow sending the packet to
/// `route(ingressPort)` tagged `tag`, while `installing` is true; counts misses.
final class MissInstaller: Sendable {
  let datapath = Mutex<DatapathSwitch?>(nil)
  let installing = Atomic<Bool>(true)
  let misses = Atomic<Int>(0)
  let tag: FlowTagHash
  let route: @Sendable (UInt32) -> [DatapathAction]

  init(tag: FlowTagHash, route: @escaping @Sendable (UInt32) -> [DatapathAction]) {
    self.tag = tag
    self.route = route
  }

  func handle(_ miss: DatapathMiss) {
    misses.add(1, ordering: .relaxed)
    guard installing.load(ordering: .relaxed), let datapath = datapath.withLock({ $0 }) else {
      return
    }
    try? datapath.install(
      FlowEntry(
        match: miss.match, actions: route(miss.match.ingressPort), tags: [tag],
        idleTimeout: .seconds(30)))
  }
}

/// An AF_PACKET socket inside a namespace that sees every frame arriving on it, to check
/// what the datapath delivered (checksums included), non-blocking.
struct NamespacedCapture: ~Copyable {
  let descriptor: Int32

  init(namespace: String) throws {
    let ethernetAll = Int32(UInt16(3).bigEndian)  // htons(ETH_P_ALL)
    let fd = try NetworkNamespace.withNamespace(namespace) {
      socket(AF_PACKET, Int32(SOCK_RAW.rawValue), ethernetAll)
    }
    guard fd >= 0 else { throw FixtureError(message: "capture socket in \(namespace): \(errno)") }
    descriptor = fd
  }

  deinit { close(descriptor) }

  /// Every frame queued so far.
  func drain() -> [[UInt8]] {
    var frames: [[UInt8]] = []
    var buffer = [UInt8](repeating: 0, count: 65_536)
    for _ in 0..<10_000 {
      let count = buffer.withUnsafeMutableBytes {
        recv(descriptor, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT))
      }
      guard count > 0 else { break }
      frames.append(Array(buffer[0..<count]))
    }
    return frames
  }
}
