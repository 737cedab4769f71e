// MARK: - Design: how long flow state lives
//
// A conntrack entry or NAT binding is made by the simulation of a connection's first
// packet and lives in the simulation view, where later simulations of the same
// connection (its return packets, its packets after a flow expired, its FIN) find it.
// Without an end, every connection ever seen would stay in memory and hold its NAT port.
//
// Which entries are in use is read off the flows, not counted: the simulator tags every
// flow with the entries it created or relied on (`FlowTag.conntrack`, `FlowTag.nat`), and
// the flows are where the packets go. Every sweep the agent dumps the datapath and hands
// the core the tags of the flows that carried a packet since the previous sweep; those
// entries are used now. An entry no flow used for its idle timeout expires: it leaves the
// view, its NAT port is free again, and the flows tagged with it are invalidated (a flow
// must not outlive the state that admitted it). The idle timeout depends on the protocol
// and, for TCP, on the connection's phase: flows match on TCP flags exactly, so the
// first FIN or RST of each direction is a miss the core sees, and from then on the
// connection is closing and goes after a short time. A SYN without ACK on a closing
// entry (a new connection on the same tuple) opens it again.
//
// Entries made here ("local") are sent to the hosts that may simulate the connection
// next when they are made, and again every half timeout (at most `refreshCap`) while
// flows use them, so a standby keeps a long-lived connection's state. Entries received
// from a peer ("peer") live on the same rules: used by a local flow, or refreshed by
// their owner, or they expire. A local entry remembers the ports its simulations
// crossed; the recipients of a refresh are worked out from them when it is sent, so an
// entry restored from the local log after a restart is refreshed too.
//
// Dictionaries do not give memory back when entries are removed, so after a sweep that
// left a table at a quarter of its capacity the table is rebuilt.

import Addresses
import Datapath
import Packets
import Simulation
import Topology

/// How long a conntrack entry or NAT binding lives without a flow using it.
public struct FlowStateTimeouts: Sendable, Hashable {
  /// A TCP connection that has not closed.
  public var tcpEstablished: Duration = .seconds(3600)
  /// A TCP connection after its first FIN or RST.
  public var tcpClosing: Duration = .seconds(15)
  /// UDP.
  public var udp: Duration = .seconds(120)
  /// Anything else (ICMP echo).
  public var other: Duration = .seconds(30)
  /// A live entry is sent to its peers again at half its timeout, and at least this often.
  public var refreshCap: Duration = .seconds(60)

  public init() {}

  /// The idle timeout of an entry of `ipProtocol`, closing or not.
  public func timeout(ipProtocol: UInt8, closing: Bool) -> Duration {
    switch ipProtocol {
    case IPProtocol.tcp.rawValue: return closing ? tcpClosing : tcpEstablished
    case IPProtocol.udp.rawValue: return udp
    default: return other
    }
  }

  /// How often the agent sweeps: a quarter of the shortest timeout, between 1 and 10 s.
  public var sweepInterval: Duration {
    let shortest = [tcpEstablished, tcpClosing, udp, other].min() ?? .seconds(4)
    return min(max(shortest / 4, .seconds(1)), .seconds(10))
  }
}

/// One entry's identity: a conntrack key, or a NAT binding by its forward key.
public enum FlowStateKey: Hashable, Sendable, CustomStringConvertible {
  case conntrack(ConntrackKey)
  case nat(NATKey)

  public var description: String {
    switch self {
    case .conntrack(let key): return "conntrack \(key)"
    case .nat(let key): return "nat \(key)"
    }
  }
}

/// A conntrack entry or NAT binding with its lifetime.
public struct FlowStateEntry: Sendable {
  /// Who made it: this host (it refreshes the peers' copies) or a peer.
  public enum Origin: String, Sendable { case local, peer }

  /// The entry as the view and the wire know it.
  public var change: StateChange
  public var origin: Origin
  public var created: ContinuousClock.Instant
  /// When a flow last used it (or, for a peer's entry, its owner last refreshed it).
  public var lastUsed: ContinuousClock.Instant
  /// A TCP connection that saw FIN or RST.
  public var closing = false
  /// The IP protocol of the connection.
  public var ipProtocol: UInt8
  /// Local entries: the ports this host's simulations of the connection crossed.
  public var ports: [ID] = []
  /// Local entries: when peers were last sent it.
  var lastSent: ContinuousClock.Instant
  /// Local entries: whether peers were told the connection is closing.
  var closingSent = false
  /// The flow tags that mark the flows using it.
  var tags: [FlowTagHash]
}

/// The lifetimes of the view's conntrack entries and NAT bindings: see the design notes
/// at the top of this file.
public struct FlowStateTable: Sendable {
  public var timeouts: FlowStateTimeouts
  public private(set) var entries: [FlowStateKey: FlowStateEntry] = [:]
  /// Which entry each flow tag marks.
  private var byTag: [FlowTagHash: FlowStateKey] = [:]
  /// Entries expired since the table was made.
  public private(set) var expired: UInt64 = 0
  /// How many of the entries are conntrack entries (the rest are NAT bindings).
  public private(set) var conntrackCount = 0

  public init(timeouts: FlowStateTimeouts = FlowStateTimeouts()) {
    self.timeouts = timeouts
  }

  /// The key and tags of a conntrack or NAT change; nil for MAC and ARP changes.
  static func identity(_ change: StateChange) -> (FlowStateKey, [FlowTagHash], UInt8)? {
    switch change {
    case .conntrack(let key):
      return (.conntrack(key), [FlowTagHasher.hash(.conntrack(key))], key.tuple.ipProtocol)
    case .natBinding(let binding):
      return (
        .nat(binding.forwardKey),
        [
          FlowTagHasher.hash(.nat(binding.forwardKey)),
          FlowTagHasher.hash(.nat(binding.reverseKey)),
        ], binding.forwardKey.tuple.ipProtocol
      )
    case .macLearned, .arpLearned:
      return nil
    }
  }

  /// Adds or renews an entry (made here, restored from the log, or received); returns
  /// whether it is new.
  @discardableResult
  public mutating func add(
    _ change: StateChange, origin: FlowStateEntry.Origin, ports: [ID] = [],
    now: ContinuousClock.Instant
  ) -> Bool {
    guard let (key, tags, ipProtocol) = Self.identity(change) else { return false }
    if var entry = entries[key] {
      entry.lastUsed = max(entry.lastUsed, now)
      if case .natBinding = change { entry.change = change }
      for port in ports where !entry.ports.contains(port) { entry.ports.append(port) }
      if origin == .local { entry.origin = .local }
      entries[key] = entry
      return false
    }
    entries[key] = FlowStateEntry(
      change: change, origin: origin, created: now, lastUsed: now, ipProtocol: ipProtocol,
      ports: ports, lastSent: now, tags: tags)
    if case .conntrack = key { conntrackCount += 1 }
    for tag in tags { byTag[tag] = key }
    return true
  }

  /// A peer says these entries' connections are closing.
  public mutating func closing(_ keys: [FlowStateKey]) {
    for key in keys where entries[key] != nil { entries[key]?.closing = true }
  }

  /// This host's own entries of `port`'s connections (what its log must hold).
  public func owned(by port: ID) -> [StateChange] {
    entries.values.filter { $0.origin == .local && $0.ports.contains(port) }.map(\.change)
  }

  /// The entries of `port`'s connections, made `origin` from now on: a port that moved
  /// away leaves its entries as peer copies (their new host owns and refreshes them), and
  /// one that moved here makes the copies it was handed its own.
  public mutating func reassign(_ port: ID, to origin: FlowStateEntry.Origin) -> [StateChange] {
    var changes: [StateChange] = []
    for (key, entry) in entries where entry.ports.contains(port) {
      changes.append(entry.change)
      entries[key]?.origin = origin
    }
    return changes
  }

  /// A simulation used the entries named in `tags`; a TCP packet with FIN or RST makes
  /// them closing, a SYN without ACK opens them again. Local simulations note the ports.
  public mutating func used(
    _ tags: [FlowTag], tcpFlags: TCPFlags?, now: ContinuousClock.Instant, ports: () -> [ID]
  ) {
    for tag in tags {
      let key: FlowStateKey
      switch tag {
      case .conntrack(let conntrack): key = .conntrack(conntrack)
      case .nat(let nat):
        guard let found = byTag[FlowTagHasher.hash(.nat(nat))] else { continue }
        key = found
      default: continue
      }
      guard var entry = entries[key] else { continue }
      entry.lastUsed = max(entry.lastUsed, now)
      if let flags = tcpFlags, entry.ipProtocol == IPProtocol.tcp.rawValue {
        if flags.contains(.fin) || flags.contains(.rst) {
          entry.closing = true
        } else if flags.contains(.syn), !flags.contains(.ack) {
          entry.closing = false
          entry.closingSent = false
        }
      }
      if entry.origin == .local {
        for port in ports() where !entry.ports.contains(port) { entry.ports.append(port) }
      }
      entries[key] = entry
    }
  }

  /// What a sweep decided.
  public struct Sweep: Sendable {
    /// The entries that expired (to take out of the view).
    public var expired: [StateChange] = []
    /// Who made each of them.
    public var origins: [FlowStateEntry.Origin] = []
    /// Their flow tags (to invalidate).
    public var tags: [FlowTagHash] = []
    /// Local entries due for a refresh, with the ports to find their recipients from.
    public var refresh: [(change: StateChange, ports: [ID])] = []
    /// Local entries whose connection started closing since the last sweep: their peers'
    /// copies are told, so that they go as soon as the entries here do.
    public var closing: [(key: FlowStateKey, change: StateChange, ports: [ID])] = []
  }

  /// The periodic pass: entries whose tags a flow carried since the last sweep are used
  /// now; entries idle beyond their timeout expire; live local entries not sent for half
  /// their timeout (at most `refreshCap`) are due for a refresh.
  public mutating func sweep(usedTags: some Sequence<FlowTagHash>, now: ContinuousClock.Instant)
    -> Sweep
  {
    for tag in usedTags {
      guard let key = byTag[tag] else { continue }
      entries[key]?.lastUsed = now
    }
    var result = Sweep()
    var gone: [FlowStateKey] = []
    for (key, entry) in entries {
      let timeout = timeouts.timeout(ipProtocol: entry.ipProtocol, closing: entry.closing)
      if now - entry.lastUsed > timeout {
        gone.append(key)
        result.expired.append(entry.change)
        result.origins.append(entry.origin)
        result.tags += entry.tags
      } else if entry.origin == .local, entry.closing, !entry.closingSent {
        result.closing.append((key, entry.change, entry.ports))
        entries[key]?.closingSent = true
        entries[key]?.lastSent = now
      } else if entry.origin == .local, entry.lastUsed > entry.lastSent,
        now - entry.lastSent >= min(timeout / 2, timeouts.refreshCap)
      {
        result.refresh.append((entry.change, entry.ports))
        entries[key]?.lastSent = now
      }
    }
    for key in gone {
      guard let entry = entries.removeValue(forKey: key) else { continue }
      if case .conntrack = key { conntrackCount -= 1 }
      for tag in entry.tags where byTag[tag] == key { byTag[tag] = nil }
    }
    expired += UInt64(gone.count)
    if !gone.isEmpty { compact() }
    return result
  }

  /// Rebuilds the dictionaries once they use a quarter of their capacity or less.
  private mutating func compact() {
    if entries.capacity > 1024, entries.count * 4 <= entries.capacity {
      var fresh = [FlowStateKey: FlowStateEntry](minimumCapacity: entries.count)
      for (key, value) in entries { fresh[key] = value }
      entries = fresh
    }
    if byTag.capacity > 1024, byTag.count * 4 <= byTag.capacity {
      var fresh = [FlowTagHash: FlowStateKey](minimumCapacity: byTag.count)
      for (key, value) in byTag { fresh[key] = value }
      byTag = fresh
    }
  }

  /// How many entries are NAT bindings.
  public var natCount: Int { entries.count - conntrackCount }
}
