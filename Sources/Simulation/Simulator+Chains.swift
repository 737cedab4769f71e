import Packets
import Topology

/// Where a chain is evaluated: the device whose chain it is (for NAT and
/// conntrack keys) and the ports the packet entered and will leave by.
struct ChainPoint {
  var device: ID
  var inPort: ID?
  var outPort: ID?
}

/// How a chain evaluation ended.
enum ChainVerdict {
  case accept
  case drop(chain: ID, rule: ID)
  case reject(chain: ID, rule: ID)
  case notYet([ObjectRef])
  case tooDeep(chain: ID)
  case natExhausted(chain: ID, rule: ID)
}

/// Rule chains: rules in order, JUMP/RETURN/CONTINUE, ACCEPT/DROP/REJECT, NAT.
///
/// A chain that ends without a decision — it runs out of rules, or a rule
/// RETURNs from the top-level chain — accepts, as in MidoNet. A JUMP evaluates
/// the target chain; if that ends without a decision the caller resumes after
/// the JUMP. JUMPs nest at most `maxJumpDepth` deep, which also ends jump
/// loops. The connection direction (forward or return) is computed the first
/// time a chain needs it, and marks the flow as tracked.
extension Simulator {
  /// Runs a filter chain; nil means the packet goes on, anything else is how
  /// the branch ends.
  func filter(
    _ chain: ID, at point: ChainPoint, _ view: SimulationView,
    _ context: inout SimulationContext
  ) -> Outcome? {
    switch evaluate(chain, at: point, depth: 0, view, &context) ?? .accept {
    case .accept:
      return nil
    case .drop(let chain, let rule):
      return .drop(.ruleDrop(chain: chain, rule: rule))
    case .reject(let chain, let rule):
      reject(at: point, view, &context)
      return .drop(.ruleReject(chain: chain, rule: rule))
    case .notYet(let ids):
      return .notYet(ids)
    case .tooDeep(let chain):
      return .drop(.jumpDepthExceeded(chain: chain))
    case .natExhausted(let chain, let rule):
      return .drop(.natExhausted(chain: chain, rule: rule))
    }
  }

  /// Evaluates one chain; nil when it ends without a decision.
  func evaluate(
    _ chainId: ID, at point: ChainPoint, depth: Int, _ view: SimulationView,
    _ context: inout SimulationContext
  ) -> ChainVerdict? {
    guard depth <= configuration.maxJumpDepth else {
      context.note(.chain, chainId, "jump depth above \(configuration.maxJumpDepth): drop")
      return .tooDeep(chain: chainId)
    }
    guard let chain = view.compiled.chains[chainId] else {
      context.note(.chain, chainId, "not loaded")
      return .notYet([ObjectRef(.chain, chainId)])
    }
    guard chain.missing.isEmpty else {
      context.note(.chain, chainId, "refers to objects not loaded")
      return .notYet(chain.missing)
    }
    context.tag(.chain(chainId))
    context.note(.chain, chainId, "evaluating \(chain.rules.count) rules")
    let forward = chain.usesConntrack ? isForwardFlow(view, &context) : true
    let match = matchContext(at: point, forward: forward, view, context)
    let rules = chain.rules
    let etherType = context.match.etherType.rawValue
    let ipProtocol = context.match.networkProtocol?.rawValue
    for index in rules.indices {
      if rules[index].skips(etherType: etherType, ipProtocol: ipProtocol) { continue }
      guard rules[index].rule.condition.matches(match) else { continue }
      let rule = rules[index].rule
      if let group = rule.condition.portGroupId { context.tag(.portGroup(group)) }
      if let group = rule.condition.ipAddrGroupIdSrc { context.tag(.ipAddrGroup(group)) }
      if let group = rule.condition.ipAddrGroupIdDst { context.tag(.ipAddrGroup(group)) }
      context.note(.rule, rule.id, "matched: \(rule.action)")
      switch rule.action {
      case .accept:
        return .accept
      case .drop:
        return .drop(chain: chainId, rule: rule.id)
      case .reject:
        return .reject(chain: chainId, rule: rule.id)
      case .continue:
        continue
      case .return:
        return nil
      case .jump(let target):
        if let verdict = evaluate(target, at: point, depth: depth + 1, view, &context) {
          return verdict
        }
      case .dnat(let targets):
        if let verdict = translate(
          .forwardDNAT, targets: targets, chain: chainId, rule: rule.id, at: point, view, &context)
        {
          return verdict
        }
      case .snat(let targets):
        if let verdict = translate(
          .forwardSNAT, targets: targets, chain: chainId, rule: rule.id, at: point, view, &context)
        {
          return verdict
        }
      case .reverseDNAT:
        if untranslate(.reverseDNAT, at: point, view, &context) { return .accept }
      case .reverseSNAT:
        if untranslate(.reverseSNAT, at: point, view, &context) { return .accept }
      }
    }
    return nil
  }

  /// Whether the packet is in its connection's forward direction: it is
  /// unless the view tracks its tuple at its ingress device as a return flow.
  /// Computed once per simulation, from the packet as it entered.
  func isForwardFlow(_ view: SimulationView, _ context: inout SimulationContext) -> Bool {
    if let known = context.forwardFlow { return known }
    var forward = true
    if let tuple = FlowTuple(context.packet.match), let device = context.ingressDevice {
      let key = ConntrackKey(tuple: tuple, device: device)
      forward = !view.conntrack.contains(key)
      if !forward { context.tag(.conntrack(key)) }
    }
    context.forwardFlow = forward
    context.note(.conntrack, context.ingressDevice, forward ? "forward flow" : "return flow")
    return forward
  }

  /// What a rule condition sees at `point`.
  func matchContext(
    at point: ChainPoint, forward: Bool, _ view: SimulationView, _ context: SimulationContext
  ) -> MatchContext {
    let packet = context.match
    var fragment = FragmentKind.unfragmented
    switch packet.fragmentType {
    case .none: fragment = .unfragmented
    case .first: fragment = .first
    case .later: fragment = .later
    }
    return MatchContext(
      inPortId: point.inPort, outPortId: point.outPort,
      inPortGroupIds: point.inPort.flatMap { view.compiled.portGroups[$0] } ?? [],
      dlSrc: packet.ethernetSource, dlDst: packet.ethernetDestination,
      dlType: packet.etherType.rawValue, nwSrc: packet.networkSource,
      nwDst: packet.networkDestination, nwProto: packet.networkProtocol?.rawValue,
      nwTos: packet.networkTOS, tpSrc: packet.transportSource, tpDst: packet.transportDestination,
      fragment: fragment, isForwardFlow: forward,
      ipAddrGroupContains: view.compiled.addressGroupContains)
  }

  /// A REJECT: answer TCP with a RST and anything else that may be answered
  /// with ICMP administratively prohibited, sent back out of the port the
  /// packet entered the current device by. The ICMP source is the router
  /// port's address on a router, the packet's destination elsewhere.
  func reject(at point: ChainPoint, _ view: SimulationView, _ context: inout SimulationContext) {
    guard let port = point.inPort ?? Optional(context.inPort), context.match.mayElicitICMPError
    else { return }
    let frame = context.currentFrame()
    if context.match.networkProtocol == .tcp {
      if let reset = try? PacketBuilder.tcpReset(replyingTo: frame) {
        context.send(.tcpReset, reset, out: port)
        context.note(.rule, port, "reject: TCP RST sent")
      }
      return
    }
    let l3 = view.compiled.portL3[port]
    guard let source = l3?.address ?? context.match.networkDestination else { return }
    if let error = try? PacketBuilder.icmpError(
      type: .destinationUnreachable, code: ICMPCode.Unreachable.administrativelyProhibited,
      quoting: frame, ethernetSource: l3?.mac ?? context.match.ethernetDestination,
      networkSource: source)
    {
      context.send(.icmpError, error, out: port)
      context.note(.rule, port, "reject: ICMP administratively prohibited sent")
    }
  }
}
