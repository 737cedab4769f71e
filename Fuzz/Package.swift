// swift-tools-version:6.2
import PackageDescription

/// libFuzzer harnesses for Midge's parsers, one executable per input format (README.md).
///
/// A package of its own, so that its instrumented build (Fuzz/run.sh passes
/// `-sanitize=address -sanitize-coverage=...` for every module) never touches the main
/// build, and the main package gains no fuzz-only targets. It uses the root package's
/// library products; where a parser lives in the Agent module (the flow-state message and
/// log, the control API's request target), the harness target compiles those source files
/// through symlinks, with the modules they import, instead of the whole agent and its
/// SwiftNIO.
let strict: [SwiftSetting] = [
  .swiftLanguageMode(.v6),
  .treatAllWarnings(as: .error),
]

func midge(_ product: String) -> Target.Dependency {
  .product(name: product, package: "Midge")
}

let support: [Target.Dependency] = ["FuzzSupport"]

let package = Package(
  name: "MidgeFuzz",
  platforms: [.macOS(.v15)],
  dependencies: [
    .package(name: "Midge", path: ".."),
    .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
  ],
  targets: [
    // libFuzzer's entry point, and the driver every harness shares.
    .target(name: "CLibFuzzer"),
    .target(name: "FuzzSupport", dependencies: ["CLibFuzzer"], swiftSettings: strict),

    .executableTarget(
      name: "TraceFuzz",
      dependencies: support + [midge("Addresses"), midge("Simulation"), midge("Packets")],
      swiftSettings: strict),
    .executableTarget(
      name: "ZnodeFuzz",
      dependencies: support + [
        midge("NSDB"), midge("LZ4"), midge("Topology"), midge("TopologyFile"),
      ],
      swiftSettings: strict),
    .executableTarget(
      name: "FlowStateFuzz",
      dependencies: support + [
        midge("Addresses"), midge("LZ4"), midge("Packets"), midge("Simulation"), midge("Topology"),
        midge("Liveness"), midge("AgentCore"),
        .product(name: "Logging", package: "swift-log"),
      ],
      swiftSettings: strict),
    .executableTarget(
      name: "TopologyFileFuzz",
      dependencies: support + [midge("TopologyFile"), midge("Topology")],
      swiftSettings: strict),
    .executableTarget(
      name: "ManifestFuzz",
      dependencies: support + [midge("Kubernetes"), midge("Topology")],
      swiftSettings: strict),
    .executableTarget(name: "ControlFuzz", dependencies: support, swiftSettings: strict),
  ]
)
