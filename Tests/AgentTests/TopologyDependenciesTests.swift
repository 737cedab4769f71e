import Testing
import Topology

@testable import Agent

@Suite("What the agent loads together with an object")
struct TopologyDependenciesTests {
  @Test("a router brings its routes, its ports and its filters")
  func router() {
    var router = Router(id: ID(name: "r"), name: "r", portIds: [ID(name: "rp1"), ID(name: "rp2")])
    router.routeIds = [ID(name: "route")]
    router.forwardFilterId = ID(name: "fw")
    let needed = Set(TopologyDependencies.needed(by: router))
    #expect(
      needed == [
        ObjectRef(.route, ID(name: "route")), ObjectRef(.port, ID(name: "rp1")),
        ObjectRef(.port, ID(name: "rp2")), ObjectRef(.chain, ID(name: "fw")),
      ])
  }

  @Test("a port brings its peer and filters, not its device")
  func port() {
    var port = Port(id: ID(name: "p"), device: .bridge(ID(name: "b")), peerId: ID(name: "peer"))
    port.inboundFilterId = ID(name: "in")
    let needed = Set(TopologyDependencies.needed(by: port))
    #expect(needed == [ObjectRef(.port, ID(name: "peer")), ObjectRef(.chain, ID(name: "in"))])
  }

  @Test("a chain brings its rules; a rule its jump target and groups")
  func chainsAndRules() {
    let chain = Chain(id: ID(name: "c"), name: "c", ruleIds: [ID(name: "r1")])
    #expect(TopologyDependencies.needed(by: chain) == [ObjectRef(.rule, ID(name: "r1"))])
    var condition = Condition.any
    condition.ipAddrGroupIdSrc = ID(name: "g")
    let rule = Rule(
      id: ID(name: "r1"), chainId: ID(name: "c"), condition: condition,
      action: .jump(chainId: ID(name: "next")))
    #expect(
      Set(TopologyDependencies.needed(by: rule)) == [
        ObjectRef(.chain, ID(name: "next")), ObjectRef(.ipAddrGroup, ID(name: "g")),
      ])
    #expect(TopologyDependencies.needed(by: Host(id: ID(name: "h"), name: "h")).isEmpty)
  }
}
