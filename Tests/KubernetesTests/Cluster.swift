import Addresses
import Kubernetes
import Packets
import Simulation
import Testing
import Topology

/// The cluster of the upstream network-policy e2e tests: namespaces x, y, z
/// with pods a, b, c each, every pod serving TCP and UDP on ports 80 and 81
/// under the names `serve-80-tcp` and so on.
enum Cluster {
  static let namespaces = ["x", "y", "z"]
  static let podNames = ["a", "b", "c"]

  struct PodRef: Hashable, CustomStringConvertible {
    var namespace: String
    var name: String
    var description: String { "\(namespace)/\(name)" }
  }

  static var pods: [PodRef] {
    namespaces.flatMap { ns in podNames.map { PodRef(namespace: ns, name: $0) } }
  }

  /// x/a is 10.0.1.10, y/b 10.0.2.11, z/c 10.0.3.12.
  static func ip(_ pod: PodRef) -> String {
    let subnet = namespaces.firstIndex(of: pod.namespace)! + 1
    let host = podNames.firstIndex(of: pod.name)! + 10
    return "10.0.\(subnet).\(host)"
  }

  /// Pods a and c run on node-1, b on node-2.
  static func node(_ pod: PodRef) -> String { pod.name == "b" ? "node-2" : "node-1" }

  /// The manifests: namespaces and pods, then `extra` documents.
  static func yaml(_ extra: String = "") -> String {
    var docs: [String] = []
    for ns in namespaces {
      docs.append(
        """
        apiVersion: v1
        kind: Namespace
        metadata:
          name: \(ns)
          labels:
            ns: \(ns)
        """)
    }
    for pod in pods {
      docs.append(
        """
        apiVersion: v1
        kind: Pod
        metadata:
          name: \(pod.name)
          namespace: \(pod.namespace)
          labels:
            pod: \(pod.name)
        spec:
          nodeName: \(node(pod))
          containers:
          - name: c80
            image: agnhost
            ports:
            - {name: serve-80-tcp, containerPort: 80, protocol: TCP}
            - {name: serve-80-udp, containerPort: 80, protocol: UDP}
          - name: c81
            image: agnhost
            ports:
            - {name: serve-81-tcp, containerPort: 81}
            - {name: serve-81-udp, containerPort: 81, protocol: UDP}
        status:
          phase: Running
          podIP: \(ip(pod))
        """)
    }
    if !extra.isEmpty { docs.append(extra) }
    return docs.joined(separator: "\n---\n") + "\n"
  }

  static func portID(_ pod: PodRef) -> ID { K8sNames.id(.port, "\(pod.namespace)/\(pod.name)") }

  /// The view `midgectl trace` would have once agents serve every pod port:
  /// ports active on their hosts, and the MAC and ARP entries the translation seeds.
  /// With `learned: false` the bridges know no pod MAC, so unicast floods:
  /// the verdict must be the same.
  static func view(_ translation: K8sTranslation, learned: Bool = true) -> SimulationView {
    var active: [ID: PortActivation] = [:]
    for port in translation.snapshot.ports.values where port.isExterior {
      active[port.id] = .init(host: port.hostId!, tunnelKey: port.tunnelKey)
    }
    var macs: [MACTableKey: ID] = [:]
    for entry in translation.macEntries where learned {
      macs[MACTableKey(bridge: entry.bridge, vlan: 0, mac: .init(rawValue: entry.mac.rawValue))] =
        entry.port
    }
    var arp: [DeviceIPKey: MACAddress] = [:]
    for entry in translation.arpEntries {
      arp[DeviceIPKey(device: entry.router, ip: .init(rawValue: entry.ip.rawValue))] = .init(
        rawValue: entry.mac.rawValue)
    }
    return SimulationView(
      topology: translation.snapshot, macTable: macs, arpTable: arp, activePorts: active)
  }

  static func translate(_ extra: String = "") throws -> K8sTranslation {
    try K8sTranslator().translate(yaml: yaml(extra))
  }

  /// Simulates the first packet `proto from:40000 > to:port`, entering at `from`'s port.
  static func send(
    _ proto: String, from: PodRef, toAddress: String, port: UInt16, view: SimulationView,
    sourcePort: UInt16 = 40000
  ) throws -> SimulationResult {
    let request = try TraceRequest(
      parsing: "\(proto) \(ip(from)):\(sourcePort) > \(toAddress):\(port)")
    return try TraceRunner.run(
      request, ingress: portID(from), view: view, localHost: K8sNames.id(.host, node(from)))
  }

  /// Whether the connection's first packet reaches `to`'s port.
  static func allowed(
    _ proto: String, _ from: PodRef, _ to: PodRef, _ port: UInt16, view: SimulationView,
    strict: Bool = true
  ) throws -> Bool {
    let result = try send(proto, from: from, toAddress: ip(to), port: port, view: view)
    switch result.verdict {
    case .forward:
      #expect(result.outputPorts == [portID(to)], "\(from) > \(to):\(port) went elsewhere")
      return result.outputPorts == [portID(to)]
    case .drop(.ruleDrop): return false
    case .drop where !strict: return false
    default:
      Issue.record("\(proto) \(from) > \(to):\(port): unexpected verdict \(result.verdict)")
      return false
    }
  }
}

/// An expected reachability matrix for one policy set, checked for ports 80
/// and 81 over TCP and UDP, all 72 ordered pairs of distinct pods (a pod's
/// traffic to itself never leaves it).
struct Expectation {
  var allowed: (Cluster.PodRef, Cluster.PodRef, UInt16, String) -> Bool

  static var everything: Expectation { Expectation { _, _, _, _ in true } }

  /// Runs every probe and reports mismatches as a matrix in the e2e tests' style.
  func check(_ translation: K8sTranslation, sourceLocation: SourceLocation = #_sourceLocation)
    throws
  {
    try check(translation, Cluster.view(translation), "", sourceLocation)
    try check(
      translation, Cluster.view(translation, learned: false), " (no MAC learned: floods)",
      sourceLocation)
  }

  func check(
    _ translation: K8sTranslation, _ view: SimulationView, _ mode: String,
    _ sourceLocation: SourceLocation
  ) throws {
    let strict = mode.isEmpty
    for proto in ["tcp", "udp"] {
      for port: UInt16 in [80, 81] {
        var wrong: [String] = []
        var lines = [
          "\(proto)/\(port)\(mode)   " + Cluster.pods.map(\.description).joined(separator: " ")
        ]
        for from in Cluster.pods {
          var row = "\(from)  "
          for to in Cluster.pods {
            guard from != to else {
              row += "  -  "
              continue
            }
            let observed = try Cluster.allowed(proto, from, to, port, view: view, strict: strict)
            let expected = allowed(from, to, port, proto)
            row += observed == expected ? (observed ? "  .  " : "  X  ") : "  !  "
            if observed != expected {
              wrong.append(
                "\(from) > \(to) \(proto)/\(port): expected \(expected ? "allow" : "deny")")
            }
          }
          lines.append(row)
        }
        if !wrong.isEmpty {
          Issue.record(
            Comment(
              rawValue: (lines + wrong).joined(separator: "\n")
                + "\n(. allowed, X denied, ! differs from the expectation)"),
            sourceLocation: sourceLocation)
        }
      }
    }
  }
}
