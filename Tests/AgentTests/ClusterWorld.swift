import Datapath
import Foundation
import Glibc
import MidgeTestSupport

/// A cluster built by `ops/cluster up` for one test: hosts in network namespaces on a
/// veth/bridge underlay, a ZooKeeper ensemble of three reached over it, an agent inside
/// each host's namespace, VMs behind their hosts (docs/cluster.md).
///
/// Why through the script and not built here like `AgentWorld`: the cluster is what an
/// operator runs by hand, so the tests exercise the same world, its cleanup included.
/// The script prints what the test needs as KEY=VALUE lines; `down()` (also on deinit)
/// removes every namespace, process and file it made, whatever happened.
final class ClusterWorld: @unchecked Sendable {
  struct Host {
    let name: String
    let namespace: String
    let address: String
    let controlPort: UInt16
    let log: String
  }

  struct VM {
    let name: String
    let namespace: String
    let address: String
    let host: String
    let bridge: String
  }

  static var opsCluster: String { ZooKeeperServer.repositoryRoot + "/ops/cluster" }

  let directory: String
  let values: [String: String]
  let hosts: [Host]
  /// VMs by name (`h1v1`, `h1v2`, ... — host 1's first and second VM).
  let vms: [String: VM]
  let sessionTimeout: Double
  /// How long `ops/cluster up` took, measured here.
  let upDuration: Duration
  private let lock = NSLock()
  private var isDown = false

  private init(directory: String, values: [String: String], upDuration: Duration) throws {
    self.directory = directory
    self.values = values
    self.upDuration = upDuration
    func value(_ key: String) throws -> String {
      guard let value = values[key], !value.isEmpty else {
        throw HarnessError("ops/cluster up printed no \(key)")
      }
      return value
    }
    var hosts: [Host] = []
    for index in stride(from: 1, through: Int(try value("HOST_COUNT")) ?? 0, by: 1) {
      let control = try value("HOST_\(index)_CONTROL")
      guard let port = control.split(separator: ":").last.flatMap({ UInt16($0) }) else {
        throw HarnessError("bad HOST_\(index)_CONTROL '\(control)'")
      }
      hosts.append(
        Host(
          name: try value("HOST_\(index)_NAME"), namespace: try value("HOST_\(index)_NS"),
          address: try value("HOST_\(index)_ADDRESS"), controlPort: port,
          log: try value("HOST_\(index)_LOG")))
    }
    var vms: [String: VM] = [:]
    // `up --vms-per-host 0` makes none: a caller bringing its own ports.
    for index in stride(from: 1, through: Int(try value("VM_COUNT")) ?? 0, by: 1) {
      let name = try value("VM_\(index)_NAME")
      vms[name] = VM(
        name: name, namespace: try value("VM_\(index)_NS"),
        address: try value("VM_\(index)_ADDRESS"), host: try value("VM_\(index)_HOST"),
        bridge: try value("VM_\(index)_BRIDGE"))
    }
    self.hosts = hosts
    self.vms = vms
    sessionTimeout = Double(try value("SESSION_TIMEOUT")) ?? 2
  }

  deinit { down() }

  /// Runs `ops/cluster up` in a fresh temporary directory with the binaries built next to
  /// this test binary (`vmsPerHost` 0: the hosts and the tunnel zone, no VM). Its own
  /// waits are bounded (ZooKeeper 90 s, apply 60 s, agents 60 s); beyond 240 s it is
  /// interrupted, which makes it remove what it made.
  static func up(hosts: Int, vmsPerHost: Int = 2) async throws -> ClusterWorld {
    let binaries = URL(fileURLWithPath: AgentWorld.agentBinary).deletingLastPathComponent().path
    try Requirement.check(Requirement.cluster)
    let directory =
      NSTemporaryDirectory() + "midge-cluster-"
      + String(UInt32.random(in: 0x1000_0000...0xFFFF_FFFF), radix: 16)
    let began = ContinuousClock.now
    let (status, output, errors) = await run(
      [
        "up", "--hosts", "\(hosts)", "--vms-per-host", "\(vmsPerHost)", "--dir", directory,
        "--bin", binaries,
      ], timeout: .seconds(240))
    let took = ContinuousClock.now - began
    guard status == 0 else {
      // A failed up removes what it made; a second look costs nothing.
      _ = await run(["down", "--dir", directory], timeout: .seconds(60))
      throw HarnessError(
        "ops/cluster up exited \(status.map(String.init) ?? "(timed out)"):\n\(errors)")
    }
    var values: [String: String] = [:]
    for line in output.split(separator: "\n") {
      guard let equals = line.firstIndex(of: "=") else { continue }
      values[String(line[..<equals])] = String(line[line.index(after: equals)...])
    }
    do {
      return try ClusterWorld(directory: directory, values: values, upDuration: took)
    } catch {
      _ = await run(["down", "--dir", directory], timeout: .seconds(60))
      throw error
    }
  }

  /// Runs `ops/cluster ARGUMENTS` with a clean signal state (`ChildProcess`), at most
  /// `timeout` (then SIGINT, so its trap cleans up, and SIGKILL 30 s later). Returns
  /// its exit status (nil when it had to be stopped), stdout and stderr.
  static func run(_ arguments: [String], timeout: Duration) async -> (Int32?, String, String) {
    let stdoutPath = NSTemporaryDirectory() + "midge-cluster-\(UUID().uuidString).out"
    let stderrPath = stdoutPath + ".err"
    defer {
      unlink(stdoutPath)
      unlink(stderrPath)
    }
    let child: ChildProcess
    do {
      child = try ChildProcess(
        ["/bin/bash", "-c", "exec \"$0\" \"$@\" 2>'\(stderrPath)'", opsCluster] + arguments,
        output: stdoutPath)
    } catch {
      return (nil, "", "\(error)")
    }
    var status = await child.wait(timeout: timeout)
    if status == nil {
      child.signal(SIGINT)
      if await child.wait(timeout: .seconds(30)) == nil {
        child.signal(SIGKILL)
        await child.wait(timeout: .seconds(5))
      }
      status = nil
    }
    let out = (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? ""
    let err = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
    return (status, out, err)
  }

  /// `ops/cluster ARGUMENTS --dir DIRECTORY`; throws unless it exits 0.
  func cluster(_ arguments: [String], timeout: Duration = .seconds(60)) async throws {
    let (status, _, errors) = await Self.run(arguments + ["--dir", directory], timeout: timeout)
    guard status == 0 else {
      throw HarnessError("ops/cluster \(arguments.joined(separator: " ")) failed:\n\(errors)")
    }
  }

  /// Removes the cluster: `ops/cluster down` (blocking, at most 60 s; a deinit cannot
  /// await). With MIDGE_TEST_KEEP set the files and logs stay for a look.
  func down() {
    let first = lock.withLock {
      defer { isDown = true }
      return !isDown
    }
    guard first else { return }
    var environment = ProcessInfo.processInfo.environment
    if environment["MIDGE_TEST_KEEP"] != nil { environment["MIDGE_CLUSTER_KEEP_FILES"] = "1" }
    let result = runCommand(
      ["/bin/bash", Self.opsCluster, "down", "--dir", directory], timeout: 60,
      environment: environment)
    if result.status != 0 { print("ops/cluster down failed: \(result.output)") }
  }

  /// The prefix of every namespace name of this cluster (`mc<tag>-`): `down` deletes
  /// any namespace carrying it, also one a test made.
  var namespacePrefix: String { "mc" + (values["CLUSTER_TAG"] ?? "-") + "-" }

  func host(_ name: String) -> Host {
    hosts.first { $0.name == name }!
  }

  func agentLog(_ host: String) -> String {
    let text = (try? String(contentsOfFile: self.host(host).log, encoding: .utf8)) ?? "(no log)"
    return String(text.suffix(6000))
  }

  /// A GET to a host's agent control API (it listens on 127.0.0.1 inside the host's
  /// namespace).
  func control(_ host: String, _ path: String) throws -> String {
    let target = self.host(host)
    return try httpGet(port: target.controlPort, path: path, namespace: target.namespace)
  }

  /// Runs a command inside a namespace (bounded).
  @discardableResult
  func inNamespace(_ namespace: String, _ command: [String], timeout: Double = 15) -> (
    status: Int32, output: String
  ) {
    runCommand(["ip", "netns", "exec", namespace] + command, timeout: timeout)
  }

  /// `ping -c count` from a VM to an address; true when at least one reply came.
  func ping(from vm: String, to address: String, count: Int = 3, interval: String = "0.2")
    -> Bool
  {
    inNamespace(
      vms[vm]!.namespace,
      ["ping", "-n", "-q", "-c", "\(count)", "-i", interval, "-W", "1", address],
      timeout: Double(count) * 1.5 + 5
    ).status == 0
  }

  /// Pings until one gets through (ARP, the first simulations and on-demand topology
  /// loads over the underlay take a moment), at most `timeout`.
  func pingsEventually(from vm: String, to address: String, timeout: Duration = .seconds(15))
    async -> Bool
  {
    await eventually(timeout: timeout, every: .milliseconds(100)) {
      ping(from: vm, to: address, count: 1)
    }
  }

  /// A kernel counter (e.g. "Ip" "FragCreates") from /proc/net/snmp inside a namespace.
  func snmpCounter(_ namespace: String, _ group: String, _ name: String) -> Int? {
    let lines = inNamespace(namespace, ["cat", "/proc/net/snmp"]).output.split(separator: "\n")
    let rows = lines.filter { $0.hasPrefix(group + ":") }.map { $0.split(separator: " ") }
    guard rows.count == 2, let column = rows[0].firstIndex(of: Substring(name)),
      column < rows[1].count
    else { return nil }
    return Int(rows[1][column])
  }

  /// The MTU of an interface inside a namespace.
  func mtu(_ namespace: String, _ interface: String) -> Int? {
    Int(
      inNamespace(namespace, ["cat", "/sys/class/net/\(interface)/mtu"]).output
        .trimmingCharacters(in: .whitespacesAndNewlines))
  }
}
