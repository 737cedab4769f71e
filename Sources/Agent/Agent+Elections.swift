import Addresses
import AgentCore
import Datapath
import Logging
import NSDB
import Packets
import Topology

/// Ports several hosts can serve (gateways, uplinks): each candidate host joins the
/// port's leader election (NSDB `LeaderElection`, one ephemeral-sequential node per
/// candidate, each watching only its predecessor). The leader attaches its interface,
/// activates the port and announces it with a gratuitous ARP; the others wait in line.
///
/// No two holders at once: the election reports `.suspended` as soon as this host's
/// ZooKeeper connection is in doubt, and the agent then stops serving at once — before
/// the session can expire and let the next candidate take over. It serves again when
/// the election says `.leader` again (the same session came back), or waits in line
/// after an expiry.
///
/// Priority: candidates join the election in priority order (a candidate waits 250 ms
/// for each step of priority below the highest), so on a cold start the highest-priority
/// live host leads; after a failover the next in line keeps the port (no pre-emption).
extension Agent {
  struct Election {
    let election: LeaderElection
    var task: Task<Void, Never>
    var leadership: Leadership = .out
  }

  /// Joins or leaves `port`'s election as its candidate list now says.
  func updateElection(_ port: ID) {
    let candidate = snapshot.ports[port]?.candidate(for: hostID)
    guard let candidate, let client, let store else {
      if let election = elections.removeValue(forKey: port) {
        election.task.cancel()
        let leaving = election.election
        Task { await leaving.stepDown(rejoin: false) }
        bindingsChanged = true
      }
      return
    }
    guard elections[port] == nil else { return }
    // Fenced by another host a moment ago: stand again after the hold-down.
    guard gateway.mayStand(now: DatapathClock.now()) else { return }
    let best = snapshot.ports[port]?.candidates.map(\.priority).max() ?? candidate.priority
    let delay = GatewayLease.joinDelay(priority: candidate.priority, best: best)
    let election = LeaderElection(
      client: client, path: store.paths.election("port-\(port)"), candidate: hostID.description,
      logger: logger)
    let events = events
    let logger = logger
    let task = Task {
      if delay > .zero { try? await Task.sleep(for: delay) }
      guard !Task.isCancelled else { return }
      let updates = election.updates()
      Task {
        do {
          try await election.join()
        } catch {
          logger.info("cannot join a port election", metadata: ["agent.error": "\(error)"])
        }
      }
      for await leadership in updates {
        if Task.isCancelled { break }
        events.yield(.leadership(port: port, leadership))
      }
    }
    elections[port] = Election(election: election, task: task)
    logger.info(
      "candidate for a port several hosts can serve",
      metadata: [
        "agent.port": "\(snapshot.ports[port]?.name ?? port.description)",
        "agent.priority": "\(candidate.priority)",
      ])
  }

  func applyLeadership(_ port: ID, _ leadership: Leadership) {
    guard var election = elections[port], election.leadership != leadership else { return }
    election.leadership = leadership
    elections[port] = election
    logger.info(
      "port leadership",
      metadata: [
        "agent.port": "\(snapshot.ports[port]?.name ?? port.description)",
        "agent.leadership": "\(leadership)",
      ])
    reconcileBindings(force: true)
  }

  /// The elected ports this host leads now, with the interface its candidate entry names.
  var ledPorts: [ID: String] {
    var result: [ID: String] = [:]
    for (port, election) in elections where election.leadership == .leader {
      if let candidate = snapshot.ports[port]?.candidate(for: hostID) {
        result[port] = candidate.interfaceName
      }
    }
    return result
  }

  /// The router's ARP entries for the subnet of a newly held port, written again under
  /// this host's session. Learned entries live as long as the session of the host that
  /// learned them — the previous holder, which saw the segment's ARP replies; once its
  /// session ends they would vanish while their neighbours are still there, and every
  /// flow through them would stall until the router asks again. The new holder does not
  /// re-learn them by itself (an entry it already knows is not written twice).
  func adoptLearnedNeighbours(_ port: ID) {
    guard let value = snapshot.ports[port], let router = value.routerId,
      let subnet = value.portSubnet
    else { return }
    let entries = view.arpTable.filter { key, _ in
      key.device == router && subnet.contains(key.ip)
    }
    guard !entries.isEmpty else { return }
    let table = writableARPTable(router)
    for (key, mac) in entries {
      let address = key.ip
      writer?.enqueue("adopt arp \(address)") { try await table.add(address, mac) }
    }
  }

  /// Tells the segment behind a newly held router port where its address now lives.
  func announce(_ port: ID, number: UInt32) {
    guard let value = snapshot.ports[port], let address = value.portAddress,
      let mac = value.portMAC
    else { return }
    let ip = address
    let frame = PacketBuilder.arpRequest(
      senderMAC: mac, senderIP: ip, targetIP: ip)
    datapath?.send(frame, actions: [.output(port: number)])
    metrics.generatedPackets.add(1, ordering: .relaxed)
  }
}
