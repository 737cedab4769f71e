import CLibFuzzer

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The harness body libFuzzer calls back into. A global, because libFuzzer takes a C
/// function pointer, which cannot capture; it is set once before the driver starts and
/// libFuzzer runs inputs on one thread.
nonisolated(unsafe) private var harness: (UnsafeRawBufferPointer) -> Void = { _ in }

/// Runs libFuzzer over `test`, with libFuzzer's usual command line
/// (`harness [options] corpus-dir...`, `harness crash-file`), and exits with its status.
///
/// With `MIDGE_FUZZ_SEEDS=DIR` in the environment it instead writes `seeds()` into DIR,
/// one file per entry: seeds in binary formats are made by the code that encodes them, so
/// Fuzz/run.sh --make-corpus keeps them in step with the encoders.
public func runFuzzer(
  seeds: () throws -> [String: [UInt8]] = { [:] },
  _ test: @escaping (UnsafeRawBufferPointer) -> Void
) -> Never {
  if let directory = getenv("MIDGE_FUZZ_SEEDS").map({ String(cString: $0) }) {
    do {
      for (name, bytes) in try seeds() {
        try write(bytes, to: directory + "/" + name)
      }
      exit(0)
    } catch {
      fatalError("cannot write seeds: \(error)")
    }
  }
  harness = test
  var argc = CommandLine.argc
  var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
  let status = LLVMFuzzerRunDriver(&argc, &argv) { data, size in
    harness(UnsafeRawBufferPointer(start: data, count: size))
    return 0
  }
  exit(status)
}

/// A broken invariant: traps, so libFuzzer saves the input as a crash.
public func require(
  _ condition: Bool, _ what: @autoclosure () -> String, file: StaticString = #fileID,
  line: UInt = #line
) {
  if !condition { fatalError("invariant broken: \(what())", file: file, line: line) }
}

/// The input as text, the way a file or a command line reaches the parser: invalid UTF-8
/// becomes U+FFFD, as `String(decoding:as:)` and Foundation's readers do.
public func text(_ bytes: UnsafeRawBufferPointer) -> String {
  String(decoding: bytes, as: UTF8.self)
}

/// Why a seed could not be written.
public struct SeedError: Error, CustomStringConvertible {
  public var description: String
}

private func write(_ bytes: [UInt8], to path: String) throws {
  guard let file = fopen(path, "wb") else {
    throw SeedError(description: "cannot create \(path)")
  }
  defer { fclose(file) }
  let written = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
  guard written == bytes.count else { throw SeedError(description: "cannot write \(path)") }
}
