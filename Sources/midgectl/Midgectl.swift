import ArgumentParser

@main
struct Midgectl: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "midgectl",
    abstract: "Operate a Midge cluster: topology bootstrap, inspection and ZooKeeper checks.",
    subcommands: [Smoke.self, Bench.self]
  )
}
