import Agent
import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle

/// `midge-agent`: the per-hypervisor daemon. A configuration file, then flags, set it up
/// (see `ops/midge-agent.yaml`); SIGTERM or SIGINT stop it gracefully.
@main
struct MidgeAgent: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "midge-agent",
    abstract: "The Midge agent: simulates first packets and forwards flows on this host.")

  @Option(name: .shortAndLong, help: "A YAML configuration file (flags override it).")
  var config: String?
  @Option(name: .customLong("zk"), help: "ZooKeeper connect string.") var zookeeper: String?
  @Option(help: "NSDB root path.") var root: String?
  @Option(help: "ZooKeeper session timeout in seconds.") var sessionTimeout: Double?
  @Option(help: "This host's name (its id is derived from it).") var hostName: String?
  @Option(help: "Where the host id is kept.") var hostIdFile: String?
  @Option(help: "The tunnel zone to join.") var tunnelZone: String?
  @Option(help: "The tunnel's underlay IPv4 address.") var tunnelAddress: String?
  @Option(help: "The tunnel UDP port.") var tunnelPort: UInt16?
  @Option(help: "trace, debug, info, notice, warning, error or critical.") var logLevel: String?
  @Option(help: "The control API address (ADDRESS:PORT, loopback).") var controlAddress: String?
  @Option(help: "A separate /metrics address (ADDRESS:PORT).") var metricsAddress: String?
  @Option(help: "Seconds an unused flow lives.") var flowIdleTimeout: Double?
  @Option(help: "Seconds a learned MAC outlives its last flow.") var macRetention: Double?
  @Option(help: "Seconds an unused topology object loaded on demand is kept.")
  var topologyIdleTimeout: Double?
  @Option(help: "Where the per-port flow-state logs live.") var flowStateDirectory: String?
  @Option(help: "A credential file (mode 0600) for a secured NSDB (else $MIDGE_CREDENTIALS).")
  var credentials: String?
  @Option(help: "Seconds between liveness hellos to other hosts over the tunnels (0: off).")
  var livenessInterval: Double?
  @Option(help: "Missed liveness hellos before a host is down.") var livenessMultiplier: Int?
  @Option(help: "Seconds a gateway holder serves after its last lease confirmation.")
  var gatewayLease: Double?
  @Option(help: "Seconds an open TCP connection's state lives without a packet.")
  var tcpEstablishedTimeout: Double?
  @Option(help: "Seconds a TCP connection's state lives after FIN or RST.")
  var tcpClosingTimeout: Double?
  @Option(help: "Seconds a UDP connection's state lives without a packet.") var udpTimeout: Double?
  @Option(help: "Seconds other connections' state (ICMP) lives without a packet.")
  var otherTimeout: Double?

  func run() async throws {
    var settings = AgentConfiguration()
    do {
      if let config {
        let text: String
        do {
          text = try String(contentsOfFile: config, encoding: .utf8)
        } catch {
          throw AgentError(
            .configuration, "cannot read \(config)", cause: AgentError.Described(error))
        }
        settings = try AgentConfiguration.parse(yaml: text)
      }
      if let zookeeper { settings.zookeeper = zookeeper }
      if let root { settings.root = root }
      if let sessionTimeout { settings.sessionTimeout = sessionTimeout }
      if let hostName { settings.hostName = hostName }
      if let hostIdFile { settings.hostIdFile = hostIdFile }
      if let tunnelZone { settings.tunnelZone = tunnelZone }
      if let credentials { settings.credentials = credentials }
      if let tunnelAddress { settings.tunnelAddress = tunnelAddress }
      if let tunnelPort { settings.tunnelPort = tunnelPort }
      if let logLevel { settings.logLevel = logLevel }
      if let controlAddress { settings.controlAddress = controlAddress }
      if let metricsAddress { settings.metricsAddress = metricsAddress }
      if let flowIdleTimeout { settings.flowIdleTimeout = flowIdleTimeout }
      if let macRetention { settings.macRetention = macRetention }
      if let topologyIdleTimeout { settings.topologyIdleTimeout = topologyIdleTimeout }
      if let flowStateDirectory { settings.flowStateDirectory = flowStateDirectory }
      if let livenessInterval { settings.livenessInterval = livenessInterval }
      if let livenessMultiplier { settings.livenessMultiplier = livenessMultiplier }
      if let gatewayLease { settings.gatewayLease = gatewayLease }
      if let tcpEstablishedTimeout { settings.tcpEstablishedTimeout = tcpEstablishedTimeout }
      if let tcpClosingTimeout { settings.tcpClosingTimeout = tcpClosingTimeout }
      if let udpTimeout { settings.udpTimeout = udpTimeout }
      if let otherTimeout { settings.otherTimeout = otherTimeout }
      if let file = ProcessInfo.processInfo.environment["MIDGE_SESSION_FILE"], !file.isEmpty {
        settings.sessionFile = file
      }
      try settings.validate()
    } catch let error as AgentError {
      throw ValidationError(error.description)
    }
    guard let level = Logger.Level(rawValue: settings.logLevel) else {
      throw ValidationError("log level '\(settings.logLevel)' is not one of trace ... critical")
    }
    LoggingSystem.bootstrap { label in
      var handler = StreamLogHandler.standardError(label: label)
      handler.logLevel = level
      return handler
    }
    var logger = Logger(label: "midge.agent")
    logger[metadataKey: "agent.host"] = "\(settings.hostName)"
    let agent = try Agent(configuration: settings, logger: logger)
    let group = ServiceGroup(
      configuration: ServiceGroupConfiguration(
        services: [.init(service: AgentService(agent: agent))],
        gracefulShutdownSignals: [.sigterm, .sigint],
        logger: logger))
    try await group.run()
  }
}
