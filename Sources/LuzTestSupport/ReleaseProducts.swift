import Foundation

/// The package's root folder, found from this file's path (`Sources/LuzTestSupport/…`).
private let packageRootFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

/// A release build of one of the package's executables, for tests that run what a debug build
/// would not show (messages under `-O`) or could not finish in time (fine-tuning). The path comes
/// from the environment variable `variable` if it is set, else from SwiftPM's release folder
/// (`.build/release/<name>`, which `.ci/run` fills before the tests). The result is `nil` when it
/// has not been built.
public func releaseProduct(_ name: String, overriddenBy variable: String) -> URL? {
    if let path = ProcessInfo.processInfo.environment[variable] { return URL(fileURLWithPath: path) }
    let candidate = packageRootFolder.appendingPathComponent(".build/release/\(name)")
    return FileManager.default.isExecutableFile(atPath: candidate.path) ? candidate : nil
}
