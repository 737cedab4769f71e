import ArgumentParser

/// Measurements against live components, and the traffic helpers of the failover drills.
/// Apart from `midgectl` because it links the agent and the datapath (in-process agents
/// on veths), which an operator's tool has no use for.
@main
struct MidgeBench: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "midge-bench",
    abstract:
      "Benchmarks against live components (figures for issue notes) and the drills' traffic helpers.",
    subcommands: [BenchNSDB.self, BenchAgent.self, BenchFlowState.self, Stream.self, Proxy.self]
  )
}
