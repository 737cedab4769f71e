// swift-tools-version:6.2
import PackageDescription

/// Every Midge target is Swift 6 language mode with warnings as errors.
/// One target per layer (docs/architecture.md); dependencies point down only.
let strict: [SwiftSetting] = [
  .swiftLanguageMode(.v6),
  .treatAllWarnings(as: .error),
]

let log = Target.Dependency.product(name: "Logging", package: "swift-log")
let crypto = Target.Dependency.product(name: "Crypto", package: "swift-crypto")
let bench = Target.Dependency.product(name: "Benchmark", package: "benchmark")
let benchPlugin = Target.PluginUsage.plugin(name: "BenchmarkPlugin", package: "benchmark")

let package = Package(
  name: "Midge",
  platforms: [.macOS(.v15)],
  products: [
    .executable(name: "midgectl", targets: ["midgectl"]),
    .executable(name: "midge-bench", targets: ["midge-bench"]),
    .executable(name: "midge-agent", targets: ["midge-agent"]),
    .executable(name: "midge-supervisor", targets: ["midge-supervisor"]),
    .library(name: "ZooKeeper", targets: ["ZooKeeper"]),
    .library(name: "LZ4", targets: ["LZ4"]),
    .library(name: "Addresses", targets: ["Addresses"]),
    .library(name: "Packets", targets: ["Packets"]),
    .library(name: "Topology", targets: ["Topology"]),
    .library(name: "NSDB", targets: ["NSDB"]),
    .library(name: "Simulation", targets: ["Simulation"]),
    .library(name: "Datapath", targets: ["Datapath"]),
    .library(name: "Liveness", targets: ["Liveness"]),
    .library(name: "AgentCore", targets: ["AgentCore"]),
    .library(name: "Agent", targets: ["Agent"]),
    .library(name: "TopologyFile", targets: ["TopologyFile"]),
    .library(name: "Kubernetes", targets: ["Kubernetes"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    .package(
      url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
  ],
  targets: [
    // C libraries.
    .systemLibrary(
      name: "CZooKeeper", path: "Sources/CZooKeeper", providers: [.apt(["libzookeeper-mt-dev"])]),
    .systemLibrary(
      name: "CLZ4", path: "Sources/CLZ4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"])]),

    // Layers.
    .target(name: "ZooKeeper", dependencies: ["CZooKeeper", log, crypto], swiftSettings: strict),
    .target(name: "LZ4", dependencies: ["CLZ4"], swiftSettings: strict),
    .target(name: "Addresses", swiftSettings: strict),
    .target(
      name: "Topology",
      dependencies: ["Addresses", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
      swiftSettings: strict),
    .target(name: "Packets", dependencies: ["Addresses"], swiftSettings: strict),
    .target(
      name: "NSDB",
      dependencies: [
        "Addresses", "ZooKeeper", "LZ4", "Topology", log,
        .product(name: "Yams", package: "Yams"),
      ],
      swiftSettings: strict),
    .target(
      name: "TopologyFile",
      dependencies: ["Addresses", "Topology", .product(name: "Yams", package: "Yams")],
      swiftSettings: strict),
    .target(
      name: "Simulation", dependencies: ["Addresses", "Topology", "Packets"], swiftSettings: strict),
    .target(name: "Liveness", dependencies: ["Topology"], swiftSettings: strict),
    .target(
      name: "Kubernetes",
      dependencies: ["Addresses", "Topology", .product(name: "Yams", package: "Yams")],
      swiftSettings: strict),
    .target(name: "CDatapath", path: "Sources/CDatapath"),
    .target(name: "Spawn", swiftSettings: strict),
    .target(name: "CommandSupport", swiftSettings: strict),
    .target(
      name: "Datapath", dependencies: ["Addresses", "Packets", "CDatapath", log],
      swiftSettings: strict),
    .target(
      name: "AgentCore",
      dependencies: ["Addresses", "Packets", "Topology", "Simulation", "Datapath"],
      swiftSettings: strict),
    .target(
      name: "Agent",
      dependencies: [
        "AgentCore", "Addresses", "NSDB", "Simulation", "Datapath", "Packets", "Topology",
        "ZooKeeper", "LZ4",
        "Liveness",
        log, crypto,
        .product(name: "Yams", package: "Yams"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "Prometheus", package: "swift-prometheus"),
      ],
      swiftSettings: strict),

    // Executables.
    // The operator's tool: the NSDB, topology files, traces, Kubernetes manifests. No agent,
    // no datapath: what runs on a hypervisor is `midge-agent`, what measures is `midge-bench`.
    .executableTarget(
      name: "midgectl",
      dependencies: [
        "Addresses", "ZooKeeper", "NSDB", "Topology", "TopologyFile", "Simulation", "Packets",
        "Kubernetes",
        "CommandSupport", log, .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      swiftSettings: strict
    ),

    // Benchmarks against live components (in-process agents, veths) and the drills'
    // traffic helpers (stream, proxy).
    .executableTarget(
      name: "midge-bench",
      dependencies: [
        "Addresses", "Agent", "AgentCore", "CDatapath", "NSDB", "Packets", "Simulation", "Topology",
        "ZooKeeper",
        "CommandSupport", log, .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      swiftSettings: strict
    ),

    .executableTarget(
      name: "midge-agent",
      dependencies: [
        "Agent", log, .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
      ],
      swiftSettings: strict
    ),

    .executableTarget(
      name: "midge-supervisor",
      dependencies: [
        "ZooKeeper", "Spawn", log,
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      swiftSettings: strict
    ),

    // Benchmarks: `swift package benchmark` (figures go in the issue notes).
    .executableTarget(
      name: "SimulationBenchmarks",
      dependencies: ["Addresses", bench, "Simulation", "Topology", "Packets"],
      path: "Benchmarks/SimulationBenchmarks",
      swiftSettings: strict,
      plugins: [benchPlugin]
    ),
    .executableTarget(
      name: "DatapathBenchmarks",
      dependencies: ["Addresses", bench, "Datapath", "Packets"],
      path: "Benchmarks/DatapathBenchmarks",
      swiftSettings: strict,
      plugins: [benchPlugin]
    ),

    // Tests.
    .target(
      name: "MidgeTestSupport", dependencies: ["ZooKeeper", "Spawn", log],
      path: "Tests/MidgeTestSupport",
      swiftSettings: strict),
    .testTarget(
      name: "ZooKeeperTests", dependencies: ["ZooKeeper", "MidgeTestSupport", log],
      swiftSettings: strict),
    .testTarget(
      name: "NSDBTests",
      dependencies: ["Addresses", "NSDB", "ZooKeeper", "Topology", "MidgeTestSupport", log],
      swiftSettings: strict),
    .testTarget(
      name: "TopologyFileTests",
      dependencies: [
        "Addresses", "TopologyFile", "Topology", "NSDB", "Simulation", "Packets",
        "MidgeTestSupport",
      ],
      swiftSettings: strict),
    .testTarget(
      name: "KubernetesTests",
      dependencies: [
        "Addresses", "Kubernetes", "Topology", "TopologyFile", "Simulation", "Packets",
      ],
      swiftSettings: strict),
    .testTarget(name: "SpawnTests", dependencies: ["Spawn"], swiftSettings: strict),
    .testTarget(name: "AddressesTests", dependencies: ["Addresses"], swiftSettings: strict),
    .testTarget(
      name: "LZ4Tests", dependencies: ["LZ4", "MidgeTestSupport"], swiftSettings: strict),
    .testTarget(
      name: "PacketsTests", dependencies: ["Addresses", "Packets", "MidgeTestSupport"],
      swiftSettings: strict),
    .testTarget(
      name: "TopologyTests",
      dependencies: [
        "Addresses", "Topology", "MidgeTestSupport",
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
      ],
      swiftSettings: strict),
    .testTarget(
      name: "LivenessTests", dependencies: ["Liveness", "Topology"], swiftSettings: strict),
    .testTarget(
      name: "SimulationTests", dependencies: ["Addresses", "Simulation", "Topology", "Packets"],
      swiftSettings: strict),
    .testTarget(
      name: "AgentTests",
      dependencies: [
        "Addresses", "AgentCore", "Agent", "Datapath", "Packets", "Simulation", "NSDB", "Topology",
        "TopologyFile",
        "ZooKeeper", "MidgeTestSupport", log, "Kubernetes",
      ],
      swiftSettings: strict),
    .testTarget(
      name: "AgentCoreTests",
      dependencies: ["AgentCore", "Addresses", "Datapath", "Packets", "Simulation", "Topology"],
      swiftSettings: strict),
    .testTarget(
      name: "DatapathTests",
      dependencies: ["Addresses", "Datapath", "Packets", "MidgeTestSupport"],
      swiftSettings: strict),
  ]
)
