import Foundation
import LuzDatasetsResources

/// Texts for character-level language models: the shipped one, Luz's own documentation, or any
/// UTF-8 file.
public enum TextCorpus {
    /// The name of the shipped text: Luz's README followed by the DocC comments of LuzNN,
    /// LuzData and Luz (about 129 000 characters, 134 distinct ones), written by this project.
    public static let documentationFile = "luz-docs.txt"

    /// Luz's documentation as one text (``documentationFile``), shipped with the package.
    /// - Throws: ``DatasetError/notFound(file:hint:)`` when the resource is not bundled.
    public static func documentation() throws -> String {
        guard let url = PackageData.url(forFile: documentationFile) else {
            throw DatasetError.notFound(file: documentationFile, hint: "the package resource is not bundled")
        }
        return try text(contentsOf: url)
    }

    /// The UTF-8 text of `file`.
    /// - Throws: ``DatasetError/notFound(file:hint:)`` when it is missing, ``DatasetError/io(file:reason:)``
    ///   when it cannot be read or is not UTF-8, each naming the file.
    public static func text(contentsOf file: URL) throws -> String {
        guard FileManager.default.fileExists(atPath: file.path) else {
            throw DatasetError.notFound(file: file.path, hint: "no such file")
        }
        let data: Data
        do {
            data = try Data(contentsOf: file)
        } catch {
            throw DatasetError.io(file: file.path, reason: "cannot be read (\(error.localizedDescription))")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw DatasetError.io(file: file.path, reason: "is not UTF-8 text")
        }
        return text
    }
}
