import AgentCore
import Foundation
import Yams

/// How an agent runs: where the NSDB is, who this host is, where its tunnel listens and
/// where its control API answers. Read from a YAML file (`ops/midge-agent.yaml` is the
/// annotated example), then overridden by flags; every field has a default that works on
/// one machine, so `midge-agent --host-name hv1` is enough next to a local ZooKeeper.
public struct AgentConfiguration: Codable, Sendable, Hashable {
  /// The ZooKeeper connect string.
  public var zookeeper: String = "127.0.0.1:2181"
  /// The NSDB root path.
  public var root: String = "/midge"
  /// The ZooKeeper session timeout, in seconds: how long peers take to notice this host
  /// died (a clean stop is seen at once).
  public var sessionTimeout: Double = 10
  /// This host's name; its id is derived from it (`Host/<name>`, as `midgectl apply` does)
  /// unless the host id file already holds one.
  public var hostName: String = ProcessInfo.processInfo.hostName
  /// Where the host id is kept across restarts (created on first start).
  public var hostIdFile: String = "/var/lib/midge/host_id"
  /// The tunnel zone this host joins (created if missing).
  public var tunnelZone: String = "default"
  /// The underlay address tunnels to this host are sent to, and the local address the
  /// tunnel socket binds.
  public var tunnelAddress: String = "127.0.0.1"
  /// The tunnel UDP port.
  public var tunnelPort: UInt16 = 6677
  /// trace, debug, info, notice, warning, error or critical.
  public var logLevel: String = "info"
  /// The control API (HTTP, a loopback address only, 127.0.0.0/8): health, flows,
  /// topology, trace, and `/metrics`.
  public var controlAddress: String = "127.0.0.1:7780"
  /// A second listener for `/metrics` alone; nil: the control API serves them.
  public var metricsAddress: String?
  /// Seconds a flow may stay unused before it is removed.
  public var flowIdleTimeout: Double = 60
  /// The most flows each port's table holds (least recently used evicted beyond).
  public var flowCapacity: Int = 1 << 16
  /// Seconds a packet waits for a device or an ARP answer before it is dropped.
  public var pendingTimeout: Double = 3
  /// Seconds between checks for bound interfaces that appeared.
  public var interfacePollInterval: Double = 0.5
  /// Seconds a MAC this host learned stays in the bridge's MAC table after the last flow
  /// from it ended.
  public var macRetention: Double = 30
  /// Seconds a topology object loaded on demand stays in the local copy while no flow
  /// and no simulation uses it (objects this host serves are kept for good).
  public var topologyIdleTimeout: Double = 120
  /// Seconds a TCP connection's conntrack entry and NAT bindings live without a packet,
  /// until it closes.
  public var tcpEstablishedTimeout: Double = 3600
  /// The same after the connection's first FIN or RST.
  public var tcpClosingTimeout: Double = 15
  /// The same for UDP.
  public var udpTimeout: Double = 120
  /// The same for other protocols (ICMP echo).
  public var otherTimeout: Double = 30
  /// Where the per-port flow-state logs live (conntrack and NAT state a restarted agent
  /// resumes from).
  public var flowStateDirectory: String = "/var/lib/midge/flow-state"
  /// A credential file (mode 0600) with the identities the agent authenticates to
  /// ZooKeeper as: the shared agent identity and this host's own (docs/security.md). nil:
  /// `$MIDGE_CREDENTIALS`, else none (an open NSDB only).
  public var credentials: String?
  /// Where the agent keeps its current ZooKeeper session's id and password (rewritten on
  /// every new session, removed on a clean stop), for `midge-supervisor`: when the agent
  /// dies the supervisor closes that session, so its ports fail over at once instead of
  /// after the session timeout. nil: not written. `midge-supervisor` sets it through the
  /// `MIDGE_SESSION_FILE` environment variable.
  public var sessionFile: String?
  /// Seconds between liveness hellos to the other hosts over the tunnels (BFD-style); a
  /// host not heard from for `livenessMultiplier` intervals is down, and a gateway port
  /// it holds is taken over without waiting for its session to expire. 0 turns liveness
  /// and the gateway lease off (a gateway port then changes hands on session expiry).
  public var livenessInterval: Double = 0.1
  /// Missed hellos before a host is down.
  public var livenessMultiplier: Int = 3
  /// Seconds a gateway holder may serve after it last confirmed its lease in ZooKeeper
  /// (renewed about every third of it); a holder that cannot renew goes silent on its
  /// own within this time.
  public var gatewayLease: Double = 0.25
  /// Seconds a candidate waits beyond one lease after fencing a silent holder, before it
  /// evicts it (covers a ZooKeeper follower applying the fence late).
  public var gatewayLeaseGuard: Double = 0.1
  /// Seconds a fenced holder stays out of elections before it stands again.
  public var gatewayHoldDown: Double = 10

  public init() {}

  public init(from decoder: any Decoder) throws {
    let defaults = AgentConfiguration()
    let container = try decoder.container(keyedBy: CodingKeys.self)
    func value<T: Decodable>(_ key: CodingKeys, _ fallback: T) throws -> T {
      try container.decodeIfPresent(T.self, forKey: key) ?? fallback
    }
    zookeeper = try value(.zookeeper, defaults.zookeeper)
    root = try value(.root, defaults.root)
    sessionTimeout = try value(.sessionTimeout, defaults.sessionTimeout)
    hostName = try value(.hostName, defaults.hostName)
    hostIdFile = try value(.hostIdFile, defaults.hostIdFile)
    tunnelZone = try value(.tunnelZone, defaults.tunnelZone)
    tunnelAddress = try value(.tunnelAddress, defaults.tunnelAddress)
    tunnelPort = try value(.tunnelPort, defaults.tunnelPort)
    logLevel = try value(.logLevel, defaults.logLevel)
    controlAddress = try value(.controlAddress, defaults.controlAddress)
    metricsAddress = try container.decodeIfPresent(String.self, forKey: .metricsAddress)
    flowIdleTimeout = try value(.flowIdleTimeout, defaults.flowIdleTimeout)
    flowCapacity = try value(.flowCapacity, defaults.flowCapacity)
    pendingTimeout = try value(.pendingTimeout, defaults.pendingTimeout)
    interfacePollInterval = try value(.interfacePollInterval, defaults.interfacePollInterval)
    macRetention = try value(.macRetention, defaults.macRetention)
    topologyIdleTimeout = try value(.topologyIdleTimeout, defaults.topologyIdleTimeout)
    flowStateDirectory = try value(.flowStateDirectory, defaults.flowStateDirectory)
    tcpEstablishedTimeout = try value(.tcpEstablishedTimeout, defaults.tcpEstablishedTimeout)
    tcpClosingTimeout = try value(.tcpClosingTimeout, defaults.tcpClosingTimeout)
    udpTimeout = try value(.udpTimeout, defaults.udpTimeout)
    otherTimeout = try value(.otherTimeout, defaults.otherTimeout)
    sessionFile = try container.decodeIfPresent(String.self, forKey: .sessionFile)
    credentials = try container.decodeIfPresent(String.self, forKey: .credentials)
    livenessInterval = try value(.livenessInterval, defaults.livenessInterval)
    livenessMultiplier = try value(.livenessMultiplier, defaults.livenessMultiplier)
    gatewayLease = try value(.gatewayLease, defaults.gatewayLease)
    gatewayLeaseGuard = try value(.gatewayLeaseGuard, defaults.gatewayLeaseGuard)
    gatewayHoldDown = try value(.gatewayHoldDown, defaults.gatewayHoldDown)
  }

  /// Parses a YAML configuration; unknown keys are errors (a typo must not silently
  /// fall back to a default).
  public static func parse(yaml text: String) throws(AgentError) -> AgentConfiguration {
    let known = Set(CodingKeys.allCases.map(\.stringValue))
    do {
      if let mapping = try Yams.load(yaml: text) as? [String: Any] {
        let unknown = mapping.keys.filter { !known.contains($0) }.sorted()
        if !unknown.isEmpty {
          throw AgentError(
            .configuration,
            "unknown setting(s) \(unknown.joined(separator: ", ")); known: "
              + known.sorted().joined(separator: ", "))
        }
      } else if !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
        throw AgentError(.configuration, "the configuration must be a mapping of settings")
      }
      let configuration =
        text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
        ? AgentConfiguration() : try YAMLDecoder().decode(AgentConfiguration.self, from: text)
      try configuration.validate()
      return configuration
    } catch let error as AgentError {
      throw error
    } catch {
      throw AgentError(
        .configuration, "cannot read the configuration", cause: AgentError.Described(error))
    }
  }

  /// Checks the values a typo or a bad flag can break.
  public func validate() throws(AgentError) {
    guard !zookeeper.isEmpty else { throw AgentError(.configuration, "zookeeper is empty") }
    guard root.hasPrefix("/") else {
      throw AgentError(.configuration, "root must be an absolute path, not '\(root)'")
    }
    guard !hostName.isEmpty else { throw AgentError(.configuration, "hostName is empty") }
    guard sessionTimeout >= 1, sessionTimeout <= 60 else {
      throw AgentError(.configuration, "sessionTimeout must be 1-60 s, not \(sessionTimeout)")
    }
    guard Self.ipv4(tunnelAddress) != nil else {
      throw AgentError(.configuration, "tunnelAddress '\(tunnelAddress)' is not an IPv4 address")
    }
    for address in [controlAddress] + (metricsAddress.map { [$0] } ?? []) {
      guard Self.hostPort(address) != nil else {
        throw AgentError(.configuration, "'\(address)' is not ADDRESS:PORT")
      }
    }
    // The control API shows flows and topology and runs traces, without authentication:
    // it must not be reachable from the network. Metrics alone may be (`metricsAddress`).
    if let (address, _) = Self.hostPort(controlAddress), address >> 24 != 127 {
      throw AgentError(
        .configuration,
        "controlAddress '\(controlAddress)' must be a loopback address (127.0.0.0/8); "
          + "use metricsAddress to expose /metrics to a scraper")
    }
    guard flowIdleTimeout > 0, pendingTimeout > 0, interfacePollInterval > 0, macRetention > 0,
      topologyIdleTimeout > 0
    else {
      throw AgentError(.configuration, "timeouts and intervals must be positive")
    }
    for (name, value) in [
      ("tcpEstablishedTimeout", tcpEstablishedTimeout), ("tcpClosingTimeout", tcpClosingTimeout),
      ("udpTimeout", udpTimeout), ("otherTimeout", otherTimeout),
    ] where !(value >= 1 && value <= 7 * 86_400) {
      throw AgentError(.configuration, "\(name) must be 1 s to 7 days, not \(value)")
    }
    guard flowCapacity > 0 else { throw AgentError(.configuration, "flowCapacity must be > 0") }
    guard livenessInterval == 0 || (livenessInterval >= 0.01 && livenessInterval <= 10) else {
      throw AgentError(
        .configuration, "livenessInterval must be 0 (off) or 0.01-10 s, not \(livenessInterval)")
    }
    guard (1...50).contains(livenessMultiplier) else {
      throw AgentError(
        .configuration, "livenessMultiplier must be 1-50, not \(livenessMultiplier)")
    }
    // The lease must end well before the session can expire: a holder cut off from
    // ZooKeeper must be silent before anyone can be elected in its place.
    guard gatewayLease >= 0.05, gatewayLeaseGuard >= 0, gatewayHoldDown >= 0,
      gatewayLease + gatewayLeaseGuard <= sessionTimeout / 2
    else {
      throw AgentError(
        .configuration,
        "gatewayLease (\(gatewayLease) s) must be at least 0.05 s, and with gatewayLeaseGuard "
          + "(\(gatewayLeaseGuard) s) at most half the sessionTimeout (\(sessionTimeout) s)")
    }
  }

  /// The flow-state timeouts as the agent's core takes them.
  public var flowStateTimeouts: FlowStateTimeouts {
    var timeouts = FlowStateTimeouts()
    timeouts.tcpEstablished = .milliseconds(Int64(tcpEstablishedTimeout * 1000))
    timeouts.tcpClosing = .milliseconds(Int64(tcpClosingTimeout * 1000))
    timeouts.udp = .milliseconds(Int64(udpTimeout * 1000))
    timeouts.other = .milliseconds(Int64(otherTimeout * 1000))
    return timeouts
  }

  /// Whether liveness over the tunnels and the gateway lease are on.
  public var livenessEnabled: Bool { livenessInterval > 0 }

  /// "a.b.c.d" as a host-order integer.
  static func ipv4(_ text: String) -> UInt32? {
    let parts = text.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count == 4 else { return nil }
    var value: UInt32 = 0
    for part in parts {
      guard let byte = UInt8(part) else { return nil }
      value = value << 8 | UInt32(byte)
    }
    return value
  }

  /// A host-order address as "a.b.c.d".
  static func dottedQuad(_ address: UInt32) -> String {
    "\(address >> 24).\(address >> 16 & 0xFF).\(address >> 8 & 0xFF).\(address & 0xFF)"
  }

  /// "a.b.c.d:port" split, with the address checked.
  static func hostPort(_ text: String) -> (address: UInt32, port: UInt16)? {
    guard let colon = text.lastIndex(of: ":"),
      let address = ipv4(String(text[..<colon])),
      let port = UInt16(text[text.index(after: colon)...])
    else { return nil }
    return (address, port)
  }
}

extension AgentConfiguration {
  enum CodingKeys: String, CodingKey, CaseIterable {
    case zookeeper, root, sessionTimeout, hostName, hostIdFile, tunnelZone, tunnelAddress
    case tunnelPort, logLevel, controlAddress, metricsAddress, flowIdleTimeout, flowCapacity
    case pendingTimeout, interfacePollInterval, macRetention, flowStateDirectory
    case topologyIdleTimeout, sessionFile, livenessInterval, livenessMultiplier, gatewayLease
    case gatewayLeaseGuard, gatewayHoldDown, tcpEstablishedTimeout, tcpClosingTimeout
    case udpTimeout, otherTimeout, credentials
  }
}
