// libFuzzer harness for trace packet strings: `midgectl trace` and the agent's control API
// hand an operator's text ("tcp 10.0.0.2:1234 > 10.0.1.5:80") to `TraceRequest(parsing:)`.
//
// Invariants, besides "never traps":
//  - a parsed request, written back in the operator's syntax, parses to the same request;
//  - its first packet (`frame`) is a frame the packet parser reads back with the request's
//    protocol, addresses and ports.
import Addresses
import FuzzSupport
import Packets
import Simulation

runFuzzer { bytes in
  guard let request = try? TraceRequest(parsing: text(bytes)) else { return }
  let written = syntax(request)
  guard let again = try? TraceRequest(parsing: written) else {
    fatalError("'\(written)' (written back from a parsed request) does not parse")
  }
  require(again == request, "'\(written)' parses to \(again), not \(request)")
  checkFrame(request)
}

/// `request` as an operator would type it. An icmp request has no ports to write unless an
/// older parser gave it some.
func syntax(_ request: TraceRequest) -> String {
  func endpoint(_ address: IPv4Address, _ port: UInt16) -> String {
    request.proto == .icmp && port == 0 ? "\(address)" : "\(address):\(port)"
  }
  return "\(request.proto.rawValue) \(endpoint(request.source, request.sourcePort)) > "
    + endpoint(request.destination, request.destinationPort)
}

func checkFrame(_ request: TraceRequest) {
  let frame: [UInt8]
  do {
    frame = try request.frame(
      source: MACAddress(rawValue: 0x0200_0000_0001), destination: .broadcast)
  } catch {
    fatalError("no frame for \(request): \(error)")
  }
  let match: FlowMatch
  do {
    match = try frame.withUnsafeBytes { try FlowMatch(frame: $0, ingressPort: 1, tunnelKey: 0) }
  } catch {
    fatalError("the frame for \(request) does not parse: \(error)")
  }
  require(match.networkSource == request.source, "frame source \(match)")
  require(match.networkDestination == request.destination, "frame destination \(match)")
  switch request.proto {
  case .tcp, .udp:
    require(
      match.networkProtocol == (request.proto == .tcp ? .tcp : .udp)
        && match.transportSource == request.sourcePort
        && match.transportDestination == request.destinationPort,
      "frame transport \(match) for \(request)")
  case .icmp:
    require(match.networkProtocol == .icmp, "frame protocol \(match) for \(request)")
  }
}
