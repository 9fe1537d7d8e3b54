import Foundation
import LuzTestSupport
import Testing

// Errors speak in every build: a release (-O) build of `luz-check` runs a misuse in a child
// process and its standard error must name the op and the shapes or values. Swift's
// `precondition` prints nothing there, so this is the test that catches a check written with
// it. The release binary is built by `.ci/run` before the tests (`swift build -c release
// --product luz-check`); without it the test is skipped and says how to make it.

/// The package's root folder, found from this file's path.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

/// The release build of `luz-check` (`LUZ_CHECK_BINARY` if set); `nil` when it has not been built.
let releaseCheckBinary = releaseProduct("luz-check", overriddenBy: "LUZ_CHECK_BINARY")

/// Runs the release `luz-check` with one case; returns its exit status and standard error.
func runReleaseCheck(_ name: String) throws -> (status: Int32, reason: Process.TerminationReason, standardError: String) {
    let process = Process()
    process.executableURL = releaseCheckBinary
    process.arguments = [name]
    // The message is all the test reads: no backtrace (which would also slow the run down).
    process.environment = ProcessInfo.processInfo.environment.merging(["SWIFT_BACKTRACE": "enable=no"]) { $1 }
    let errors = Pipe()
    process.standardError = errors
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    let data = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, process.terminationReason, String(decoding: data, as: UTF8.self))
}

@Suite("Messages in release builds")
struct ReleaseMessageTests {
    /// Each misuse of `luz-check` and the words its message must hold.
    static let expectations: [(name: String, words: [String])] = [
        ("linear", ["linear", "[32, 5]", "[16, 4]", "should be 4"]),
        ("matmul", ["matmul", "[32, 10]", "[9, 4]", "inner dimensions 10 and 9 differ"]),
        ("zeros-overflow", ["zeros", "[4294967296, 4294967296]", "more elements than an Int can count"]),
        ("cross-entropy-label", ["crossEntropy", "target 12", "10 classes"]),
        ("max-pool-too-small", ["maxPool2d", "[1, 64, 1, 1]", "too small", "output size 0 × 0"]),
        ("batch-size", ["DataLoader", "batchSize must be positive, got 0"]),
        ("negative-epochs", ["epochs", "non-negative, got -3"]),
    ]

    @Test(.enabled(if: releaseCheckBinary != nil,
                   "no release build of luz-check; make one with `swift build -c release --product luz-check`"),
          arguments: expectations.map(\.name))
    func releaseBuildNamesTheOpAndTheShapes(_ name: String) throws {
        let words = Self.expectations.first { $0.name == name }!.words
        let run = try runReleaseCheck(name)
        // A stopped program: killed by the trap's signal, never a normal exit.
        #expect(run.reason == .uncaughtSignal, "luz-check \(name) exited with status \(run.status): \(run.standardError)")
        for word in words {
            #expect(run.standardError.contains(word), "luz-check \(name): stderr lacks '\(word)': \(run.standardError)")
        }
    }
}
