import AgentCore
import Datapath
import Simulation
import Testing
import Topology

@Suite("AgentCore: which topology objects are observed, and for how long")
struct TopologyInterestsTests {
  static let host = ID(name: "host-here")
  static let zone = ID(name: "zone")
  static let bound = ID(name: "bound-port")
  static let candidate = ID(name: "candidate-port")

  func core() -> (AgentCore, ContinuousClock.Instant) {
    let t0 = ContinuousClock.now
    let core = AgentCore(
      hostID: Self.host,
      settings: AgentCore.Settings(flowIdleTimeout: .seconds(30), pendingTimeout: .seconds(5)),
      origin: t0)
    return (core, t0)
  }

  @Test("the host object pins its zones and ports; readiness waits for all of them")
  func pinnedAndReady() {
    var (core, t0) = core()
    let hostOnly = core.updatePinned(now: t0)
    #expect(hostOnly == [ObjectRef(.host, Self.host)])
    #expect(!core.pinnedObjectsLoaded)
    var host = Host(id: Self.host, name: "here")
    host.tunnelZoneIds = [Self.zone]
    host.portIds = [Self.bound]
    host.candidatePortIds = [Self.candidate]
    _ = core.applyTopology(.upsert(host))
    let hostLoaded = core.noteLoaded(ObjectRef(.host, Self.host))
    #expect(hostLoaded)
    let started = Set(core.updatePinned(now: t0))
    #expect(
      started == [
        ObjectRef(.tunnelZone, Self.zone), ObjectRef(.port, Self.bound),
        ObjectRef(.port, Self.candidate),
      ])
    let pinnedAgain = core.updatePinned(now: t0)
    #expect(pinnedAgain.isEmpty)
    #expect(!core.pinnedObjectsLoaded)
    for ref in started {
      let loaded = core.noteLoaded(ref)
      #expect(loaded)
    }
    #expect(core.pinnedObjectsLoaded)

    // A port no longer named by the host is an ordinary cached object from then on.
    host.candidatePortIds = []
    _ = core.applyTopology(.upsert(host))
    let afterUnpin = core.updatePinned(now: t0)
    #expect(afterUnpin.isEmpty)
    #expect(core.interests.interests[ObjectRef(.port, Self.candidate)]?.pinned == false)
  }

  @Test("an object found missing is not asked for again for a hostLoaded, unless pinned")
  func absentBackOff() {
    var (core, t0) = core()
    let ref = ObjectRef(.bridge, ID(name: "gone"))
    let firstAsk = core.want(ref, now: t0)
    #expect(firstAsk)
    let secondAsk = core.want(ref, now: t0)
    #expect(!secondAsk)
    core.noteAbsent(ref, now: t0)
    let loadedAfterAbsent = core.noteLoaded(ref)
    #expect(!loadedAfterAbsent)
    let askInBackOff = core.want(ref, now: t0 + .milliseconds(500))
    #expect(!askInBackOff)
    let pinnedInBackOff = core.want(ref, pinned: true, now: t0 + .milliseconds(500))
    #expect(pinnedInBackOff)
    core.noteAbsent(ref, now: t0)
    let askAfterBackOff = core.want(ref, now: t0 + .milliseconds(1001))
    #expect(askAfterBackOff)
  }

  @Test("an object no flow uses is dropped after the idle time; one a flow uses stays")
  func idleSweep() {
    var (core, t0) = core()
    let used = Bridge(id: ID(name: "used"), name: "used")
    let unused = Bridge(id: ID(name: "unused"), name: "unused")
    for bridge in [used, unused] {
      let ref = ObjectRef(.bridge, bridge.id)
      let started = core.want(ref, now: t0)
      #expect(started)
      _ = core.applyTopology(.upsert(bridge))
      let loaded = core.noteLoaded(ref)
      #expect(loaded)
    }
    let flowTags = Set([FlowTagHasher.hash(FlowTag.device(used.id))])
    let idle = Duration.seconds(10)
    let afterOne = core.sweepTopology(flowTags: flowTags, idle: idle, now: t0 + .seconds(1))
    #expect(afterOne.isEmpty)
    let afterFive = core.sweepTopology(flowTags: flowTags, idle: idle, now: t0 + .seconds(5))
    #expect(afterFive.isEmpty)
    let evicted = core.sweepTopology(flowTags: flowTags, idle: idle, now: t0 + .seconds(12))
    #expect(evicted == [ObjectRef(.bridge, unused.id)])
    #expect(!core.interests.contains(ObjectRef(.bridge, unused.id)))
    #expect(core.interests.contains(ObjectRef(.bridge, used.id)))
  }
}
