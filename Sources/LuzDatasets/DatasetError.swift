import Foundation

/// An error raised while fetching, verifying, decompressing or parsing a data file.
///
/// Every case names the file involved, and the messages say what was expected and what was
/// found: "corrupt" alone tells a user nothing about whether to retry, delete a file or change
/// mirrors.
public enum DatasetError: Error, Equatable, CustomStringConvertible, LocalizedError {
    /// The file ends before the amount of data its header or the transfer announced.
    case truncated(file: String, expectedBytes: Int, actualBytes: Int)
    /// The file's header is malformed or announces a size that cannot be right.
    case invalidHeader(file: String, reason: String)
    /// The gzip stream is damaged; `reason` is zlib's message.
    case corruptGzip(file: String, reason: String)
    /// Neither the compressed nor the decompressed checksum matched; the file was deleted.
    case checksumMismatch(file: String, expected: String, actual: String,
                          expectedContent: String?, actualContent: String?)
    /// Every mirror failed; `attempts` lists each URL tried with the reason it failed.
    case downloadFailed(file: String, attempts: [String])
    /// The file is not in the cache and downloading was not allowed.
    case notFound(file: String, hint: String)
    /// A CSV file could not be parsed, or a column was missing or of the wrong type.
    case invalidCSV(file: String, reason: String)
    /// Reading or writing a file failed at the system level.
    case io(file: String, reason: String)
    /// An entry of an archive (`.tar`, `.tar.gz`) is malformed, truncated or would land outside
    /// the folder it is extracted to; `entry` is its path in the archive (or where its header
    /// starts, when the header cannot be read).
    case invalidArchive(file: String, entry: String, reason: String)
    /// An image file (PGM, PPM) is malformed; `field` is the part at fault: `magic`, `width`,
    /// `height`, `maxval` or `data`.
    case invalidImage(file: String, field: String, reason: String)

    /// The name of the file the error is about.
    public var file: String {
        switch self {
        case let .truncated(file, _, _), let .invalidHeader(file, _), let .corruptGzip(file, _),
             let .checksumMismatch(file, _, _, _, _), let .downloadFailed(file, _), let .notFound(file, _),
             let .invalidCSV(file, _), let .io(file, _), let .invalidArchive(file, _, _),
             let .invalidImage(file, _, _):
            return file
        }
    }

    /// What went wrong, without the file name.
    public var reason: String {
        switch self {
        case let .truncated(_, expected, actual):
            return "truncated: expected \(expected) bytes, found \(actual)"
        case let .invalidHeader(_, reason):
            return "invalid header: \(reason)"
        case let .corruptGzip(_, reason):
            return "corrupt gzip data: \(reason)"
        case let .checksumMismatch(_, expected, actual, expectedContent, actualContent):
            var message = "MD5 checksum mismatch: expected \(expected), got \(actual)"
            if let expectedContent {
                message += "; decompressed content: expected \(expectedContent), got \(actualContent ?? "unreadable")"
            }
            return message + " (the file was deleted)"
        case let .downloadFailed(_, attempts):
            return "download failed from every mirror:\n  " + attempts.joined(separator: "\n  ")
        case let .notFound(_, hint):
            return "not found: \(hint)"
        case let .invalidCSV(_, reason), let .io(_, reason):
            return reason
        case let .invalidArchive(_, entry, reason):
            return "entry \(entry): \(reason)"
        case let .invalidImage(_, field, reason):
            return "\(field): \(reason)"
        }
    }

    /// The file name followed by the reason.
    public var description: String { "\(file): \(reason)" }

    /// The same text as ``description``, for `localizedDescription`.
    public var errorDescription: String? { description }
}

/// The last system error as text (`strerror(errno)`).
func systemErrorText(_ code: Int32 = errno) -> String {
    String(cString: strerror(code))
}
