// libFuzzer harness for znode bytes: what an agent or midgectl reads from ZooKeeper is
// whatever any writer (or a corrupted disk) left there. The first input byte picks the
// reader, the rest is the node's data:
//
//   0...10  `ModelCodec.decode` as the ModelType with that index (LZ4 framing + protobuf)
//   11      `PortRoutes.decode`, a port's learned routes (versioned framing of Routes)
//   12      `LZ4Frame.decode` alone
//
// Invariants, besides "never traps": whatever decodes encodes again and decodes to an
// equal value (model objects through ModelCodec, routes through PortRoutes, raw bytes
// through LZ4Frame).
import FuzzSupport
import LZ4
import Topology
import TopologyFile

@testable import NSDB

let readers = ModelType.allCases.count + 2

runFuzzer(seeds: seeds) { bytes in
  guard let selector = bytes.first else { return }
  let stored = Array(bytes.dropFirst())
  let index = Int(selector) % readers
  if index < ModelType.allCases.count {
    roundTrip(ModelCodec.metatype(ModelType.allCases[index]), stored)
  } else if index == ModelType.allCases.count {
    roundTripRoutes(stored)
  } else {
    roundTripFrame(stored)
  }
}

func roundTrip<T: WireCodable>(_ type: T.Type, _ stored: [UInt8]) {
  guard let object = try? ModelCodec.decode(T.self, stored) else { return }
  let encoded: [UInt8]
  do {
    encoded = try ModelCodec.encode(object)
  } catch {
    fatalError("decoded \(T.modelType) does not encode: \(error)")
  }
  do {
    let again = try ModelCodec.decode(T.self, encoded)
    require(again == object, "\(T.modelType) \(object) re-decodes as \(again)")
  } catch {
    fatalError("re-encoded \(T.modelType) does not decode: \(error)")
  }
}

func roundTripRoutes(_ stored: [UInt8]) {
  guard let routes = try? PortRoutes.decode(stored, path: "/fuzz") else { return }
  do {
    let again = try PortRoutes.decode(try PortRoutes.encode(routes), path: "/fuzz")
    require(again == routes, "routes \(routes) re-decode as \(again)")
  } catch {
    // The encoder refuses lists over the node limit; a decoded one is smaller than that.
    fatalError("decoded routes do not round-trip: \(error)")
  }
}

func roundTripFrame(_ stored: [UInt8]) {
  guard let raw = try? LZ4Frame.decode(stored, maximumLength: 1 << 20) else { return }
  do {
    let again = try LZ4Frame.decode(LZ4Frame.encode(raw))
    require(again == raw, "LZ4 frame of \(raw.count) bytes re-decodes differently")
  } catch {
    fatalError("re-encoded LZ4 frame does not decode: \(error)")
  }
}

/// Real objects of every type, encoded as the NSDB stores them (the smallest and the
/// largest of each type in the topology below), one LZ4-framed as a value over
/// `ModelCodec.compressionThreshold` would be, a port's routes, and raw frames.
func seeds() throws -> [String: [UInt8]] {
  let snapshot = try TopologyFile.parse(Seeds.topology)
  var result: [String: [UInt8]] = [:]
  func add(_ objects: [some WireCodable]) throws {
    let modelType = type(of: objects[0]).modelType
    let index = UInt8(ModelType.allCases.firstIndex(of: modelType)!)
    let encoded = try objects.map { try ModelCodec.encode($0) }.sorted { $0.count < $1.count }
    result["\(modelType.rawValue)"] = [index] + encoded.last!
    if encoded.first!.count < encoded.last!.count {
      result["\(modelType.rawValue)-small"] = [index] + encoded.first!
    }
    if modelType == .chain {
      result["Chain-framed"] = [index] + LZ4Frame.encode(encoded.last!)
    }
  }
  try add(Array(snapshot.hosts.values))
  try add(Array(snapshot.tunnelZones.values))
  try add(Array(snapshot.bridges.values))
  try add(Array(snapshot.routers.values))
  try add(Array(snapshot.ports.values))
  try add(Array(snapshot.routes.values))
  try add(Array(snapshot.chains.values))
  try add(Array(snapshot.rules.values))
  try add(Array(snapshot.portGroups.values))
  try add(Array(snapshot.ipAddrGroups.values))
  try add(Array(snapshot.dhcps.values))
  let routes = snapshot.routes.values.sorted { $0.id < $1.id }.prefix(2)
  let lz4 = UInt8(ModelType.allCases.count + 1)
  result["PortRoutes"] = [lz4 - 1] + (try PortRoutes.encode(Array(routes)))
  result["LZ4-stored"] = [lz4] + LZ4Frame.encode(Array("midge".utf8))
  result["LZ4-compressed"] =
    [lz4] + LZ4Frame.encode(Array(repeating: Array("midge".utf8), count: 40).flatMap { $0 })
  return result
}

/// A topology with every model type (read lazily: main.swift runs top to bottom, and
/// `runFuzzer` never returns).
enum Seeds {
  static let topology = """
    tunnelZones: [{name: zone}]
    hosts:
      - {name: host-a, tunnelZone: zone, address: 127.0.0.1, port: 16677}
    portGroups: [{name: web, stateful: true}]
    ipAddrGroups: [{name: admins, addresses: [10.0.0.2, 10.0.0.3]}]
    bridges:
      - name: tenant
        vni: 7
        dhcp:
          subnet: 10.0.0.0/24
          gateway: 10.0.0.1
          dns: [8.8.8.8]
          hosts: [{mac: "02:00:00:00:00:02", ip: 10.0.0.2, name: vm}]
        ports:
          - {name: vm, host: host-a, interface: tap0, portGroups: [web], inboundFilter: guard}
          - {name: trunk, vlan: 10, adminUp: false}
    routers:
      - name: edge
        ports:
          - {name: edge-in, address: 10.0.0.1/24, link: tenant}
          - {name: uplink, address: 192.0.2.2/30, mac: "02:00:00:00:01:01"}
        routes:
          - {dst: 0.0.0.0/0, port: uplink, gateway: 192.0.2.1, weight: 10}
          - {dst: 198.51.100.0/24, type: blackhole}
        floatingIps: [{external: 192.0.2.10, internal: 10.0.0.2, port: uplink}]
    chains:
      - name: guard
        rules:
          - {action: accept, ipAddrGroupSrc: admins, nwProto: tcp, tpDst: 22-23}
          - {action: dnat, targets: [{address: 10.0.0.2-10.0.0.3, ports: 80}], nwDst: 10.0.0.9/32}
          - {action: jump, jump: other, not: [nwSrc], nwSrc: 10.9.0.0/16}
          - {action: drop, fragments: nonheader, dlType: 0x0800, forwardFlow: true}
      - name: other
        rules:
          - {action: reject, portGroup: web, dlSrc: "02:00:00:00:00:09"}
    """
}
