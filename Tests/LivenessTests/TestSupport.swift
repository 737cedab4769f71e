import Liveness
import Testing
import Topology

/// A deterministic generator for the tests, so every run sees the same inputs.
typealias TestRandom = SplitMix64

/// A host id from a short name.
func host(_ name: String) -> ID { ID(name: "host-\(name)") }

/// A port id from a short name.
func port(_ name: String) -> ID { ID(name: "port-\(name)") }

/// Two or more monitors wired through a simulated tunnel network with injected time.
///
/// Every hello goes through `encoded()` and `init(decoding:)`. The loop jumps from event to
/// event: a delivery (after `latency`) or a monitor's `nextDeadline`, at which it calls
/// `tick` — what the shell does. A `cut` network drops what is sent; a `frozen` host is
/// neither ticked nor delivered to (its datagrams queue, as in a socket buffer) until thawed.
struct Network {
  var now: Duration
  var monitors: [ID: LivenessMonitor] = [:]
  /// Hosts in a fixed order, so the simulation is deterministic.
  var hosts: [ID] = []
  var latency: Duration = .milliseconds(1)
  var cut = false
  var frozen: Set<ID> = []
  var inFlight: [(at: Duration, to: ID, bytes: [UInt8])] = []
  var log: [(time: Duration, host: ID, directive: LivenessMonitor.Directive)] = []
  /// When each host was last delivered a hello.
  var lastDelivered: [ID: Duration] = [:]
  var decodeFailures = 0

  init(now: Duration = .seconds(1000)) { self.now = now }

  mutating func add(_ id: ID, configuration: LivenessMonitor.Configuration = .init()) {
    monitors[id] = LivenessMonitor(host: id, configuration: configuration, now: now)
    hosts.append(id)
  }

  mutating func setPeers(_ id: ID, _ peers: Set<ID>) {
    let directives = monitors[id]!.setPeers(peers, now: now)
    apply(id, directives)
  }

  mutating func apply(_ id: ID, _ directives: [LivenessMonitor.Directive]) {
    for directive in directives {
      log.append((now, id, directive))
      if case .send(let hello, let to) = directive, !cut {
        inFlight.append((now + latency, to, hello.encoded()))
      }
    }
  }

  /// Runs events until `end` (bounded: records an issue if it does not get there).
  mutating func run(until end: Duration, sourceLocation: SourceLocation = #_sourceLocation) {
    for _ in 0..<200_000 {
      var next: Duration?
      for message in inFlight where !frozen.contains(message.to) {
        next = min(next ?? message.at, message.at)
      }
      for id in hosts where !frozen.contains(id) {
        if let deadline = monitors[id]!.nextDeadline { next = min(next ?? deadline, deadline) }
      }
      guard let time = next, time <= end else {
        now = end
        return
      }
      now = max(now, time)
      for id in hosts where !frozen.contains(id) {
        if let deadline = monitors[id]!.nextDeadline, deadline <= now {
          let directives = monitors[id]!.tick(now: now)
          apply(id, directives)
        }
      }
      let due = inFlight.filter { $0.at <= now && !frozen.contains($0.to) }
      inFlight.removeAll { $0.at <= now && !frozen.contains($0.to) }
      for message in due where monitors[message.to] != nil {
        guard let hello = try? LivenessHello(decoding: message.bytes) else {
          decodeFailures += 1
          continue
        }
        lastDelivered[message.to] = now
        let directives = monitors[message.to]!.received(hello, now: now)
        apply(message.to, directives)
      }
    }
    Issue.record("the simulation did not reach \(end)", sourceLocation: sourceLocation)
  }

  /// The log entries of `id` at or after `time`.
  func entries(of id: ID, from time: Duration) -> [(
    time: Duration, directive: LivenessMonitor.Directive
  )] {
    log.filter { $0.host == id && $0.time >= time }.map { ($0.time, $0.directive) }
  }

  /// When `id` first emitted `directive` at or after `time`.
  func first(_ directive: LivenessMonitor.Directive, by id: ID, from time: Duration) -> Duration? {
    log.first { $0.host == id && $0.time >= time && $0.directive == directive }?.time
  }

  /// How often `id` emitted `directive` at or after `time`.
  func count(_ directive: LivenessMonitor.Directive, by id: ID, from time: Duration) -> Int {
    log.filter { $0.host == id && $0.time >= time && $0.directive == directive }.count
  }
}

extension LivenessMonitor.Directive {
  /// The hello, if this is a send.
  var hello: LivenessHello? {
    if case .send(let hello, _) = self { return hello }
    return nil
  }
}
