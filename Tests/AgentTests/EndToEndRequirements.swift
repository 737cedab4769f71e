import MidgeTestSupport

/// What the end-to-end suites need, by the world they build. A suite names its set with
/// `.requires(...)`; a machine without one of them fails the suite's tests, naming it.
extension Requirement {
  /// Agent processes on VM namespaces (`AgentWorld`, `K8sWorld`).
  static let agents: [Requirement] = network + [.product("midge-agent")]
  /// As `agents`, under `midge-supervisor`.
  static let supervisedAgents: [Requirement] = agents + [.product("midge-supervisor")]
  /// A cluster from `ops/cluster` (`ClusterWorld`): agents under the supervisor, the
  /// topology applied with `midgectl`.
  static let cluster: [Requirement] = supervisedAgents + [.product("midgectl")]
}
