import Foundation

/// A fresh folder under the system's temporary directory, `<prefix>-<UUID>`, for a test's files;
/// `remove()` (in a `defer`) deletes it with everything in it.
public struct TemporaryFolder {
    /// The folder's path.
    public let path: String

    /// Creates the folder.
    public init(_ prefix: String) throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// Deletes the folder and its contents.
    public func remove() { try? FileManager.default.removeItem(atPath: path) }
}
