import AgentCore
import Testing
import Topology

@Suite("TakeoverPolicy: when a standby takes a gateway port over")
struct TakeoverPolicyTests {
  static let me = ID(name: "host-standby")
  static let holder = ID(name: "host-holder")
  static let witness = ID(name: "host-witness")
  static let uplink = ID(name: "uplink")

  func plan(
    following: [ID] = [uplink], holders: [ID: ID] = [uplink: holder],
    everUp: Set<ID> = [holder, witness], down: Set<ID> = [holder], up: Set<ID> = [witness],
    peers: Set<ID> = [holder, witness], underway: Set<ID> = []
  ) -> [TakeoverPolicy.Takeover] {
    TakeoverPolicy.takeovers(
      host: Self.me, following: following, holders: holders, everUp: everUp, down: down, up: up,
      peers: peers, underway: underway)
  }

  @Test("a holder seen up once and down now, with a witness still up, is taken over")
  func takesOver() {
    #expect(plan() == [.init(port: Self.uplink, holder: Self.holder)])
  }

  @Test("no takeover when this host is the one cut off: every other peer is down too")
  func cutOffHostWaits() {
    #expect(plan(down: [Self.holder, Self.witness], up: []).isEmpty)
    // With the holder as its only peer, there is no witness to ask.
    #expect(
      plan(everUp: [Self.holder], up: [], peers: [Self.holder])
        == [.init(port: Self.uplink, holder: Self.holder)])
  }

  @Test("no takeover of a holder never seen up, one that is up, one of ours, or one under way")
  func leavesAlone() {
    #expect(plan(everUp: [Self.witness]).isEmpty)
    #expect(plan(down: [], up: [Self.holder, Self.witness]).isEmpty)
    #expect(plan(holders: [Self.uplink: Self.me]).isEmpty)
    #expect(plan(holders: [:]).isEmpty)
    #expect(plan(underway: [Self.uplink]).isEmpty)
    #expect(plan(following: []).isEmpty)
  }
}
