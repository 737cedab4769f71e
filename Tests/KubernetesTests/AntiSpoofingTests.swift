import Kubernetes
import Packets
import Simulation
import Testing
import Topology

@Suite("Pod anti-spoofing")
struct AntiSpoofingTests {
  @Test(
    "a pod sending from another pod's address, or from outside its namespace, is dropped; its own address passes"
  )
  func spoofed() throws {
    let translation = try Cluster.translate()
    let view = Cluster.view(translation)
    let xa = Cluster.PodRef(namespace: "x", name: "a")
    let xb = Cluster.PodRef(namespace: "x", name: "b")
    let ya = Cluster.PodRef(namespace: "y", name: "a")
    let port = Cluster.portID(xa)
    let host = K8sNames.id(.host, Cluster.node(xa))
    func verdict(_ packet: String) throws -> Verdict {
      try TraceRunner.run(
        TraceRequest(parsing: packet), ingress: port, view: view, localHost: host
      ).verdict
    }
    let honest = try verdict("tcp \(Cluster.ip(xa)):40000 > \(Cluster.ip(ya)):80")
    #expect(honest == .forward, "x/a's own traffic: \(honest)")
    // x/b's address (TraceRunner then also uses x/b's MAC, from the DHCP entries).
    let asNeighbour = try verdict("tcp \(Cluster.ip(xb)):40000 > \(Cluster.ip(ya)):80")
    guard case .drop(.ruleDrop) = asNeighbour else {
      Issue.record("x/a sending as x/b: \(asNeighbour)")
      return
    }
    let asOutsider = try verdict("udp 10.250.0.9:5353 > \(Cluster.ip(ya)):81")
    guard case .drop(.ruleDrop) = asOutsider else {
      Issue.record("x/a sending from an address outside its namespace: \(asOutsider)")
      return
    }
  }
}
