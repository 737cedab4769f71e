import ArgumentParser

/// The operator's tool. It talks to ZooKeeper and reads files; it links no agent and no
/// datapath (benchmarks and the drills' traffic helpers are `midge-bench`).
@main
struct Midgectl: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "midgectl",
    abstract: "Operate a Midge cluster: topology bootstrap, inspection and ZooKeeper checks.",
    subcommands: [
      Apply.self, Diff.self, Get.self, Delete.self, Export.self, Graph.self, Hosts.self,
      Ports.self, Trace.self, Check.self, Raw.self, K8s.self, Acl.self, Smoke.self,
    ]
  )
}
