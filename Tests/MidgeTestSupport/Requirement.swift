import Foundation
import Glibc
import Testing

/// Something a test needs from the machine. One rule for every test: a test that cannot
/// run here fails, naming what is missing; it is never skipped in silence (a skipped
/// end-to-end suite looks like a green one). Attach the needs with `.requires(...)` on a
/// suite or a test, or call `Requirement.check(_:)` where the trait cannot go.
public enum Requirement: Sendable, Hashable, CustomStringConvertible {
  /// Running as root (network namespaces, veths, AF_PACKET).
  case root
  /// A command on PATH that answers `arguments` with status 0, from a Debian package.
  case command(String, arguments: [String], package: String)
  /// A product of this package built next to the test binary (`swift build --build-tests`
  /// builds every product).
  case product(String)

  /// iproute2's `ip`, for namespaces, veths and addresses.
  public static let ip = Requirement.command("ip", arguments: ["-V"], package: "iproute2")
  /// `ping`, for traffic between namespaces.
  public static let ping = Requirement.command("ping", arguments: ["-V"], package: "iputils-ping")
  /// What every test with namespaces and real packets needs.
  public static let network: [Requirement] = [.root, .ip, .ping]

  public var description: String {
    switch self {
    case .root: "root"
    case .command(let name, _, let package): "`\(name)` (\(package))"
    case .product(let name): name
    }
  }

  /// Why this need is not met here, or nil when it is.
  public var unmetReason: String? {
    switch self {
    case .root:
      return geteuid() == 0
        ? nil
        : "this test needs root (namespaces, veths, packet sockets); run it as root, as CI does"
    case .command(let name, let arguments, let package):
      return runCommand([name] + arguments, timeout: 10).status == 0
        ? nil : "this test needs `\(name)`: apt-get install \(package) (ops/test installs it)"
    case .product(let name):
      let path = Self.productPath(name)
      return FileManager.default.isExecutableFile(atPath: path)
        ? nil : "this test needs \(name) at \(path): build it with `swift build --build-tests`"
    }
  }

  /// Where a product of this package is: next to the running test binary.
  public static func productPath(_ name: String) -> String {
    URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
      .appendingPathComponent(name).path
  }

  /// Throws `MissingRequirement` naming every need of `requirements` not met here.
  public static func check(_ requirements: [Requirement]) throws {
    let reasons = requirements.compactMap(\.unmetReason)
    guard reasons.isEmpty else { throw MissingRequirement(reasons: reasons) }
  }
}

/// A test could not run: what it needs is missing. Thrown, so the test fails with it.
public struct MissingRequirement: Error, CustomStringConvertible {
  public enum Code: Sendable { case unmet }
  public let code: Code = .unmet
  public let message: String
  /// Each need not met, one sentence each.
  public let reasons: [String]

  public init(reasons: [String]) {
    self.reasons = reasons
    message = "cannot run here: " + reasons.joined(separator: "; ")
  }

  public var description: String { message }
}

/// The trait behind `.requires(...)`: checks the needs before each test (also each test of
/// a suite it is attached to) and fails the test with `MissingRequirement` when one is
/// not met, instead of running it or skipping it.
public struct RequirementsTrait: TestTrait, SuiteTrait, TestScoping {
  public let requirements: [Requirement]

  public var isRecursive: Bool { true }

  /// Once per test case; not for the suite itself, whose tests each check.
  public func scopeProvider(for test: Test, testCase: Test.Case?) -> RequirementsTrait? {
    testCase == nil ? nil : self
  }

  public func provideScope(
    for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
  ) async throws {
    try Requirement.check(requirements)
    try await function()
  }
}

extension Trait where Self == RequirementsTrait {
  /// The test (or each test of the suite) fails, naming what is missing, unless every
  /// one of `requirements` is met.
  public static func requires(_ requirements: Requirement...) -> Self {
    RequirementsTrait(requirements: requirements)
  }

  /// As `requires(_:)`, with a list (`.requires(Requirement.network + [.product("x")])`).
  public static func requires(_ requirements: [Requirement]) -> Self {
    RequirementsTrait(requirements: requirements)
  }
}
