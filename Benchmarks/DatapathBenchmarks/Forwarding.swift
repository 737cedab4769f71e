import Addresses
import Datapath
import Foundation
import Logging
import Packets
import Synchronization

// Packets per second forwarded between two veths: the datapath (flows installed) against
// the Linux kernel bridge, same namespaces, same traffic, same run. Three namespaces the
// benchmark creates and removes: a sender and a receiver ("VMs", 10.198.0.1 and .2) and a
// middle one holding both veths' other ends, where either the datapath attaches or a
// kernel bridge joins them. Nothing is created in the root namespace.

/// Runs a command; returns its exit status.
@discardableResult
private func run(_ arguments: [String]) -> Int32 {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
  process.arguments = arguments
  process.standardOutput = FileHandle.nullDevice
  process.standardError = FileHandle.nullDevice
  guard (try? process.run()) != nil else { return -1 }
  process.waitUntilExit()
  return process.terminationStatus
}

/// A UDP socket made inside `namespace`.
private func udpSocket(in namespace: String, address: IPv4Address, port: UInt16) throws -> Int32 {
  let descriptor = try NetworkNamespace.withNamespace(namespace) {
    socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
  }
  var local = sockaddr_in()
  local.sin_family = sa_family_t(AF_INET)
  local.sin_port = port.bigEndian
  local.sin_addr = in_addr(s_addr: address.rawValue.bigEndian)
  _ = withUnsafePointer(to: &local) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
      bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
    }
  }
  var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
  setsockopt(
    descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
  return descriptor
}

/// The forwarding topology; `tearDown()` removes it.
struct ForwardingRig {
  let suffix = String(UInt32.random(in: 0..<0xFFFF_FFFF), radix: 16)
  var sender: String { "midge-t-\(suffix)-s" }
  var receiver: String { "midge-t-\(suffix)-r" }
  var middle: String { "midge-t-\(suffix)-m" }
  let senderAddress = IPv4Address(10, 198, 0, 1)
  let receiverAddress = IPv4Address(10, 198, 0, 2)

  func setUp() -> Bool {
    let steps: [[String]] = [
      ["ip", "netns", "add", sender], ["ip", "netns", "add", receiver],
      ["ip", "netns", "add", middle],
      [
        "ip", "-n", middle, "link", "add", "vs", "type", "veth", "peer", "name", "eth0", "netns",
        sender,
      ],
      [
        "ip", "-n", middle, "link", "add", "vr", "type", "veth", "peer", "name", "eth0", "netns",
        receiver,
      ],
      ["ip", "-n", sender, "link", "set", "eth0", "address", "02:00:00:00:00:01"],
      ["ip", "-n", receiver, "link", "set", "eth0", "address", "02:00:00:00:00:02"],
      ["ip", "-n", sender, "addr", "add", "\(senderAddress)/24", "dev", "eth0"],
      ["ip", "-n", receiver, "addr", "add", "\(receiverAddress)/24", "dev", "eth0"],
      ["ip", "-n", sender, "link", "set", "eth0", "up"],
      ["ip", "-n", receiver, "link", "set", "eth0", "up"],
      [
        "ip", "-n", sender, "neigh", "add", "\(receiverAddress)", "lladdr", "02:00:00:00:00:02",
        "dev", "eth0",
      ],
      [
        "ip", "-n", receiver, "neigh", "add", "\(senderAddress)", "lladdr", "02:00:00:00:00:01",
        "dev", "eth0",
      ],
      ["ip", "-n", middle, "link", "set", "vs", "up"],
      ["ip", "-n", middle, "link", "set", "vr", "up"],
    ]
    return steps.allSatisfy { run($0) == 0 }
  }

  func tearDown() {
    for namespace in [sender, receiver, middle] { run(["ip", "netns", "del", namespace]) }
  }

  /// Blasts 64-byte frames (18-byte UDP payloads) from the sender for `seconds` and
  /// returns the datagrams per second the receiver got.
  func measure(seconds: Double) throws -> Double {
    let out = try udpSocket(in: sender, address: senderAddress, port: 40_000)
    let into = try udpSocket(in: receiver, address: receiverAddress, port: 5_001)
    defer {
      close(out)
      close(into)
    }
    let stop = Atomic<Bool>(false)
    let received = Atomic<Int>(0)
    let counting = Thread {
      var buffer = [UInt8](repeating: 0, count: 2_048)
      while !stop.load(ordering: .relaxed) {
        let count = buffer.withUnsafeMutableBytes { recv(into, $0.baseAddress, $0.count, 0) }
        if count > 0 { received.add(1, ordering: .relaxed) }
      }
    }
    counting.start()
    var remote = sockaddr_in()
    remote.sin_family = sa_family_t(AF_INET)
    remote.sin_port = UInt16(5_001).bigEndian
    remote.sin_addr = in_addr(s_addr: receiverAddress.rawValue.bigEndian)
    let payload = [UInt8](repeating: 0x42, count: 18)
    let start = Date()
    let before = received.load(ordering: .relaxed)
    while Date().timeIntervalSince(start) < seconds {
      for _ in 0..<256 {
        _ = payload.withUnsafeBytes { bytes in
          withUnsafePointer(to: &remote) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
              sendto(
                out, bytes.baseAddress, bytes.count, Int32(MSG_DONTWAIT), $0,
                socklen_t(MemoryLayout<sockaddr_in>.size))
            }
          }
        }
      }
    }
    let elapsed = Date().timeIntervalSince(start)
    usleep(200_000)
    let got = received.load(ordering: .relaxed) - before
    stop.store(true, ordering: .relaxed)
    usleep(200_000)
    return Double(got) / elapsed
  }

  /// Datapath forwarding: flows vs→vr and vr→vs, installed on the first miss.
  func measureDatapath(seconds: Double) throws -> Double {
    let holder = Mutex<DatapathSwitch?>(nil)
    let datapath = try DatapathSwitch(
      logger: Logger(label: "midge.datapath.bench"),
      onMiss: { miss in
        let out: UInt32 = miss.match.ingressPort == 1 ? 2 : 1
        try? holder.withLock { $0 }?.install(
          FlowEntry(match: miss.match, actions: [.output(port: out)]))
      })
    holder.withLock { $0 = datapath }
    defer { datapath.stop() }
    try NetworkNamespace.withNamespace(middle) {
      try datapath.attach(interface: "vs", port: 1)
      try datapath.attach(interface: "vr", port: 2)
    }
    _ = try measure(seconds: 0.3)  // installs the flow
    return try measure(seconds: seconds)
  }

  /// Kernel bridge forwarding between the same veths.
  func measureBridge(seconds: Double) throws -> Double {
    run(["ip", "-n", middle, "link", "add", "br0", "type", "bridge"])
    run(["ip", "-n", middle, "link", "set", "vs", "master", "br0"])
    run(["ip", "-n", middle, "link", "set", "vr", "master", "br0"])
    run(["ip", "-n", middle, "link", "set", "br0", "up"])
    defer { run(["ip", "-n", middle, "link", "del", "br0"]) }
    _ = try measure(seconds: 0.3)
    return try measure(seconds: seconds)
  }
}
