import ArgumentParser

@main
struct Midgectl: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "midgectl",
    abstract: "Operate a Midge cluster: topology bootstrap, inspection and ZooKeeper checks.",
    subcommands: [
      Apply.self, Diff.self, Get.self, Delete.self, Export.self, Graph.self, Hosts.self,
      Ports.self, Trace.self, Check.self, Raw.self, Stream.self, Proxy.self, K8s.self, Smoke.self,
      Bench.self,
    ]
  )
}
