// libFuzzer harness for the agents' tunnel messages: flow-state messages
// (`FlowStateMessage.decode`) and liveness hellos (`LivenessHello(decoding:)`), the
// datagrams one agent sends another over the tunnel (reached by anyone who can send to the
// tunnel port), and the local flow-state log a restarted agent reads back
// (`FlowStateLog.load`).
//
// FlowStateMessage.swift and FlowStateLog.swift are symlinks to Sources/Agent: compiled
// here with the modules they import, so the harness does not build the whole agent.
//
// Every input is decoded as a message. An input whose first byte is 0 is also read as a
// log (a log starts with a block length below 16 MiB, a message with "M").
//
// Invariants, besides "never traps": a decoded message encodes and decodes to the same
// changes; a hello that decodes re-encodes to exactly its bytes, and the two decoders
// never both accept one input (the agent tells them apart by magic); what a log yields, written to a new log by `append` and loaded again, is the
// same list.
import Addresses
import Foundation
import FuzzSupport
import LZ4
import Liveness
import Logging
import Packets
import Simulation
import Topology

/// The log the harness writes and loads (static lets: main.swift runs top to bottom, and
/// `runFuzzer` never returns).
enum Scratch {
  /// tmpfs when there is one.
  static let directory: String = {
    let base =
      FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    let path = base + "/midge-flowstate-fuzz-\(getpid())"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
  }()
  static let log = FlowStateLog(
    directory: directory, logger: Logger(label: "fuzz") { _ in SwiftLogNoOpLogHandler() })
  static let port = ID(high: 1, low: 2)
  static let copyPort = ID(high: 3, low: 4)
}

runFuzzer(seeds: seeds) { bytes in
  let input = Array(bytes)
  if let changes = try? FlowStateMessage.decode(input) {
    do {
      let again = try FlowStateMessage.decode(FlowStateMessage.encode(changes))
      require(again == changes, "message \(changes) re-decodes as \(again)")
    } catch {
      fatalError("re-encoded message does not decode: \(error)")
    }
  }
  if input.first == 0 { checkLog(input) }
  if let hello = try? LivenessHello(decoding: input) {
    require(LivenessHello.hasMagic(input), "a hello decoded without its magic")
    require(hello.encoded() == input, "hello \(hello) re-encodes as other bytes")
    require((try? FlowStateMessage.decode(input)) == nil, "a hello also decodes as flow state")
  }
}

func checkLog(_ input: [UInt8]) {
  let log = Scratch.log
  guard FileManager.default.createFile(atPath: log.path(Scratch.port), contents: Data(input))
  else {
    fatalError("cannot write \(log.path(Scratch.port))")
  }
  let changes = log.load(Scratch.port)
  guard !changes.isEmpty else { return }
  try? FileManager.default.removeItem(atPath: log.path(Scratch.copyPort))
  log.append(FlowStateMessage.encode(changes), port: Scratch.copyPort)
  let again = log.load(Scratch.copyPort)
  require(again == changes, "log \(changes) re-loads as \(again)")
}

/// Messages with both record types, and logs of them (whole, and cut short).
func seeds() -> [String: [UInt8]] {
  let device = ID(high: 0x1111, low: 0x2222)
  let tuple = FlowTuple(
    source: IPv4Address(10, 0, 0, 2), destination: IPv4Address(10, 0, 1, 5),
    ipProtocol: 6, sourcePort: 40_000, destinationPort: 80)
  let reply = FlowTuple(
    source: IPv4Address(10, 0, 1, 5), destination: IPv4Address(192, 0, 2, 10),
    ipProtocol: 6, sourcePort: 80, destinationPort: 1024)
  let nat = NATBinding(
    forwardKey: NATKey(kind: .forwardSNAT, device: device, tuple: tuple),
    forward: NATTranslation(address: IPv4Address(192, 0, 2, 10), port: 1024),
    reverseKey: NATKey(kind: .reverseSNAT, device: device, tuple: reply),
    reverse: NATTranslation(address: IPv4Address(10, 0, 0, 2), port: 40_000))
  let conntrack = FlowStateMessage.encode([.conntrack(ConntrackKey(tuple: tuple, device: device))])
  let both = FlowStateMessage.encode([
    .conntrack(ConntrackKey(tuple: reply, device: device)), .natBinding(nat),
  ])
  let many = FlowStateMessage.encode(
    (0..<40).map { index in
      var next = tuple
      next.sourcePort = UInt16(1000 + index)
      return .conntrack(ConntrackKey(tuple: next, device: device))
    })
  func block(_ message: [UInt8]) -> [UInt8] {
    let length = UInt32(message.count)
    return (0..<4).map { UInt8(truncatingIfNeeded: length >> (24 - 8 * $0)) } + message
  }
  let logged = block(conntrack) + block(both)
  return [
    "conntrack": conntrack,
    "conntrack-and-nat": both,
    "many": many,
    "log": logged,
    "log-cut": Array(logged.dropLast(3)),
    "hello": LivenessHello(
      sender: ID(high: 7, low: 8), receiver: ID(high: 9, low: 10), myDiscriminator: 3,
      yourDiscriminator: 4, state: .up, interval: .milliseconds(100), multiplier: 3,
      serving: [ID(high: 11, low: 12)]
    ).encoded(),
  ]
}
