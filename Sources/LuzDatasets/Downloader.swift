import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import LuzSerialization
import LuzTensor

/// A file a dataset is made of, with the checksums that identify its true content.
public struct RemoteFile: Hashable, Sendable {
    /// The file name, both on the mirrors and in the cache (`train-images-idx3-ubyte.gz`).
    public var name: String
    /// The MD5 of the file as published, or `nil` when none is known.
    public var md5: String?
    /// The MD5 of the decompressed content of a gzip file, or `nil` when none is known. Mirrors
    /// that recompress a file change its MD5 but not this one.
    public var contentMD5: String?
    /// The size of the decompressed content of a gzip file, when known: verifying a file stops
    /// as soon as its content passes it.
    public var contentSize: Int?

    /// Creates a file description.
    /// - Parameters:
    ///   - name: the file name on the mirrors and in the cache.
    ///   - md5: the published MD5 of the file, if known.
    ///   - contentMD5: the MD5 of its decompressed content, if known (gzip files only).
    ///   - contentSize: the size of its decompressed content, if known (gzip files only).
    public init(name: String, md5: String? = nil, contentMD5: String? = nil, contentSize: Int? = nil) {
        self.name = name
        self.md5 = md5
        self.contentMD5 = contentMD5
        self.contentSize = contentSize
    }
}

/// Finds dataset files in the local cache and downloads the missing ones from mirrors, verified.
///
/// - The cache root is `LUZ_DATA_DIR` when set, else `$XDG_CACHE_HOME/luz`, else
///   `~/.cache/luz` (`~/Library/Caches/luz` on macOS); each dataset has its own folder in it
///   (`mnist`, `kmnist`, `fashion-mnist`, `cifar-10`, …), so one dataset's files are never read as another's.
/// - Mirrors are tried in order. `LUZ_DATASET_MIRROR`, when set, replaces them for every
///   dataset: a base URL (`https://`, `http://`, `file://` or a plain path) under which
///   `<dataset>/<file>` is fetched, for offline machines and blocked hosts.
/// - A download goes to a hidden temporary file in the destination folder and is renamed to its
///   final name only once complete and verified: a file passes when its MD5 is the published one
///   or, for gzip files, when its decompressed content has the known content MD5 (mirrors
///   recompress). A failed, short or mismatched download is deleted; leftovers of interrupted
///   runs are removed before the next download, so nothing partial is ever read.
/// - A progress bar is drawn only when standard error is a terminal.
///
/// Files already in the cache are verified once too, since they may have been copied there by
/// hand (as a failed download suggests) or damaged since: the first load checks their checksums
/// and records it in a stamp file next to them (`.<name>.verified`, holding the file's size and
/// modification time), so later loads check only that the file is unchanged.
public struct Downloader: Sendable {
    /// The environment the settings are read from (the process environment by default; tests
    /// pass their own).
    public var environment: [String: String]
    /// Whether to draw a progress bar; `nil` draws one only when standard error is a terminal.
    public var showsProgress: Bool?
    /// How long a transfer may stall before it fails, in seconds.
    public var timeout: TimeInterval
    /// Whether files found in the cache are checked against their published checksums (once,
    /// then recorded in a stamp file). Turn it off only for files of one's own making.
    public var verifiesCachedFiles: Bool

    /// Creates a downloader.
    /// - Parameters:
    ///   - environment: where `LUZ_DATA_DIR`, `LUZ_DATASET_MIRROR`, `XDG_CACHE_HOME` and `HOME`
    ///     are read.
    ///   - showsProgress: force the progress bar on or off; `nil` decides from `isatty`.
    ///   - timeout: the longest stall allowed in a transfer, in seconds.
    ///   - verifiesCachedFiles: check files found in the cache against their checksums.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment,
                showsProgress: Bool? = nil, timeout: TimeInterval = 60, verifiesCachedFiles: Bool = true) {
        self.environment = environment
        self.showsProgress = showsProgress
        self.timeout = timeout
        self.verifiesCachedFiles = verifiesCachedFiles
    }

    /// The folder under which each dataset has its own folder.
    public var cacheRoot: URL {
        if let dir = environment["LUZ_DATA_DIR"], !dir.isEmpty {
            return URL(fileURLWithPath: dir, isDirectory: true)
        }
        if let dir = environment["XDG_CACHE_HOME"], !dir.isEmpty {
            return URL(fileURLWithPath: dir, isDirectory: true).appendingPathComponent("luz", isDirectory: true)
        }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        #if os(macOS)
        return URL(fileURLWithPath: home).appendingPathComponent("Library/Caches/luz", isDirectory: true)
        #else
        return URL(fileURLWithPath: home).appendingPathComponent(".cache/luz", isDirectory: true)
        #endif
    }

    /// The mirror base URL from `LUZ_DATASET_MIRROR`, if set.
    public var mirrorOverride: URL? {
        guard let value = environment["LUZ_DATASET_MIRROR"], !value.isEmpty else { return nil }
        return Self.baseURL(value)
    }

    /// The mirrors to try for a dataset: the override's `<base>/<dataset>/` when
    /// `LUZ_DATASET_MIRROR` is set, else `defaults`.
    /// - Parameters:
    ///   - dataset: the dataset's folder name (`mnist`).
    ///   - defaults: the dataset's published mirrors, each a folder holding its files.
    public func mirrors(for dataset: String, defaults: [URL]) -> [URL] {
        guard let base = mirrorOverride else { return defaults }
        return [base.appendingPathComponent(dataset, isDirectory: true)]
    }

    /// Parses a mirror setting: a URL with a scheme, or a local path.
    static func baseURL(_ text: String) -> URL {
        if text.contains("://"), let url = URL(string: text) { return url }
        return URL(fileURLWithPath: text, isDirectory: true)
    }

    /// Returns the local copy of `file` in `directory`, downloading and verifying it first when
    /// it is missing.
    ///
    /// - Parameters:
    ///   - file: the file and its checksums.
    ///   - mirrors: folders (URLs) holding the file, tried in order.
    ///   - directory: the dataset's cache folder; created if needed.
    /// - Returns: the location of the verified file.
    /// - Throws: ``DatasetError/checksumMismatch(file:expected:actual:expectedContent:actualContent:)``
    ///   when a mirror served other content (the file is deleted), or
    ///   ``DatasetError/downloadFailed(file:attempts:)`` listing every mirror and its failure.
    @discardableResult
    public func fetch(_ file: RemoteFile, from mirrors: [URL], into directory: URL) throws -> URL {
        let destination = directory.appendingPathComponent(file.name)
        if FileManager.default.fileExists(atPath: destination.path) { return try verifiedCachedFile(file, at: destination) }
        try checkFolder(directory, for: file.name)
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw DatasetError.io(file: file.name, reason: "cannot create \(directory.path): \(error.localizedDescription)")
        }
        Self.removeStalePartials(in: directory)

        var attempts: [String] = []
        var mismatch: DatasetError?
        for mirror in mirrors {
            let source = mirror.appendingPathComponent(file.name)
            do {
                let writer = try FileWriter(destination: destination, name: file.name)
                // A failed attempt's temporary file goes now, not whenever the last reference
                // (the URL session's delegate) lets go of the writer.
                defer { writer.discard() }
                try transfer(from: source, to: writer, name: file.name)
                try Self.verify(writer.temporaryURL, as: file)
                try writer.commit()
                try? stamp(file, at: destination)
                return destination
            } catch let error as DatasetError {
                if case .checksumMismatch = error, mismatch == nil { mismatch = error }
                attempts.append("\(source.absoluteString): \(error.reason)")
            } catch {
                attempts.append("\(source.absoluteString): \(error.localizedDescription)")
            }
        }
        if let mismatch { throw mismatch }
        if mirrors.isEmpty { attempts.append("no mirror to download from") }
        throw DatasetError.downloadFailed(file: file.name, attempts: attempts)
    }

    /// Checks a file against its known checksums: the file's MD5 first, then (gzip files) the
    /// MD5 of its decompressed content.
    /// - Throws: ``DatasetError/checksumMismatch(file:expected:actual:expectedContent:actualContent:)``
    ///   naming the file and every sum compared.
    public static func verify(_ url: URL, as file: RemoteFile) throws {
        guard file.md5 != nil || file.contentMD5 != nil else { return }
        let actual = try Checksum.md5(of: url)
        if let expected = file.md5, expected.lowercased() == actual { return }
        var actualContent: String?
        if let expectedContent = file.contentMD5 {
            // A damaged gzip stream is a mismatch too: its content cannot be the right one.
            actualContent = try? Checksum.contentMD5(ofGzip: url, maximumBytes: file.contentSize)
            if actualContent == expectedContent.lowercased() { return }
        }
        throw DatasetError.checksumMismatch(
            file: file.name, expected: file.md5 ?? "(not published)", actual: actual,
            expectedContent: file.contentMD5, actualContent: actualContent)
    }

    /// Returns `local`, a cached copy of `file`, after checking it against the file's checksums
    /// unless a stamp records that this very file (same size, same modification time) passed.
    /// - Throws: ``DatasetError/io(file:reason:)`` naming the cached file and the sums compared
    ///   when it is not the published file.
    public func verifiedCachedFile(_ file: RemoteFile, at local: URL) throws -> URL {
        guard verifiesCachedFiles, file.md5 != nil || file.contentMD5 != nil else { return local }
        if let (url, record) = try? stampRecord(file, at: local),
           (try? String(contentsOf: url, encoding: .utf8)) == record { return local }
        do {
            try Self.verify(local, as: file)
        } catch let error as DatasetError {
            throw DatasetError.io(
                file: file.name,
                reason: "the cached copy \(local.path) is not the published file (\(error.reason)); delete it, and download: true fetches it again")
        }
        // A cache that cannot take the stamp only costs another check next time.
        try? stamp(file, at: local)
        return local
    }

    /// Returns `local`, a copy of `file` installed by the system (Debian's
    /// `/usr/share/datasets/`), after checking it against the file's checksums.
    ///
    /// Unlike a cached file it gets no stamp: the folder belongs to the package manager (and is
    /// read-only), so the check runs at every load; Debian recompresses, so it is the content
    /// checksum that passes, at the cost of one decompression.
    /// - Throws: ``DatasetError/io(file:reason:)`` naming the file and the sums compared when it
    ///   is not the published file.
    func verifiedInstalledFile(_ file: RemoteFile, at local: URL) throws -> URL {
        guard verifiesCachedFiles else { return local }
        do {
            try Self.verify(local, as: file)
        } catch let error as DatasetError {
            throw DatasetError.io(
                file: file.name,
                reason: "the installed copy \(local.path) is not the published file (\(error.reason)); reinstall its package, or pass download: true with another root")
        }
        return local
    }

    /// The stamp file of a cached file and what it holds once the file is verified: the size
    /// and modification time, and the checksum it was verified against.
    private func stampRecord(_ file: RemoteFile, at local: URL) throws -> (URL, String) {
        let url = local.deletingLastPathComponent().appendingPathComponent(".\(file.name).verified")
        return (url, "\(try Self.signature(of: local, name: file.name)) \((file.md5 ?? file.contentMD5 ?? "").lowercased())")
    }

    /// Records that `local` passed verification as `file`.
    private func stamp(_ file: RemoteFile, at local: URL) throws {
        let (url, record) = try stampRecord(file, at: local)
        try AtomicFileWriter.write(Data(record.utf8), to: url.path)
    }

    /// A file's size and modification time, which change when the file does.
    static func signature(of url: URL, name: String) throws -> String {
        var info = stat()
        guard stat(url.path, &info) == 0 else {
            throw DatasetError.io(file: name, reason: "cannot stat \(url.path): \(systemErrorText())")
        }
        #if canImport(Darwin)
        let modified = info.st_mtimespec
        #else
        let modified = info.st_mtim
        #endif
        return "size \(info.st_size) mtime \(modified.tv_sec).\(modified.tv_nsec)"
    }

    /// Checks that the first existing folder on the way to `directory` is a folder: a cache root
    /// (`LUZ_DATA_DIR`) that names a regular file must say so, not fail to create a folder
    /// with a Foundation error number.
    func checkFolder(_ directory: URL, for name: String) throws {
        var folder = directory.standardizedFileURL
        while folder.path != "/" {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory) {
                if isDirectory.boolValue { return }
                let setting = environment["LUZ_DATA_DIR"].map { URL(fileURLWithPath: $0).standardizedFileURL.path == folder.path } == true
                    ? "LUZ_DATA_DIR is \(folder.path), which" : "\(folder.path)"
                throw DatasetError.io(file: name, reason: "\(setting) is a file, not a folder: the cache needs a folder there")
            }
            folder = folder.deletingLastPathComponent()
        }
    }

    /// The longest a transfer of `bytes` (-1 when unknown) may take, in seconds:
    /// `LUZ_DOWNLOAD_DEADLINE` when set, else two minutes plus the time the file takes at
    /// 20 kB/s (11 minutes for MNIST's largest file), on top of the stall ``timeout``.
    public func transferDeadline(forBytes bytes: Int64) -> TimeInterval {
        if let text = environment["LUZ_DOWNLOAD_DEADLINE"], let seconds = TimeInterval(text), seconds > 0 { return seconds }
        return 120 + Double(Swift.max(bytes, 0)) / 20_000
    }

    /// Deletes `.partial` files that no live download holds locked (left by a killed transfer).
    static func removeStalePartials(in directory: URL) {
        AtomicFileWriter.removeStaleTemporaries(in: directory.path)
    }

    /// Copies `source` (http, https or file URL) into `destination`, failing on anything short.
    func transfer(from source: URL, to destination: FileWriter, name: String) throws {
        let progress = ProgressBar(name: name, enabled: showsProgress ?? (isatty(STDERR_FILENO) != 0))
        switch source.scheme?.lowercased() {
        case "file", nil:
            try copyLocalFile(from: source, to: destination, progress: progress)
        case "http", "https":
            try HTTPTransfer.download(source, to: destination, name: name, timeout: timeout,
                                      deadline: { transferDeadline(forBytes: $0) }, progress: progress)
        case let scheme?:
            throw DatasetError.io(file: name, reason: "unsupported URL scheme \(scheme)")
        }
    }

    private func copyLocalFile(from source: URL, to writer: FileWriter, progress: ProgressBar) throws {
        let name = source.lastPathComponent
        guard let input = fopen(source.path, "rb") else {
            throw DatasetError.io(file: name, reason: "cannot open \(source.path): \(systemErrorText())")
        }
        defer { fclose(input) }
        var info = stat()
        let total = fstat(fileno(input), &info) == 0 ? Int64(info.st_size) : -1
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        var copied: Int64 = 0
        while true {
            let n = fread(buffer.baseAddress, 1, buffer.count, input)
            if n > 0 {
                try writer.write(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
                copied += Int64(n)
                progress.update(received: copied, total: total)
            }
            if n < buffer.count {
                if ferror(input) != 0 {
                    throw DatasetError.io(file: name, reason: "read error on \(source.path): \(systemErrorText())")
                }
                break
            }
        }
        progress.finish()
    }
}

/// A download on its way into the cache: an ``AtomicFileWriter`` whose failures (a full disk, a
/// read-only cache) are reported as ``DatasetError/io(file:reason:)`` naming the file. Until
/// ``commit()`` the bytes are in a hidden temporary file, deleted if the writer goes away first.
final class FileWriter {
    private let file: AtomicFileWriter
    private let name: String

    init(destination: URL, name: String) throws {
        self.name = name
        file = try Self.mapped(name) { try AtomicFileWriter(path: destination.path) }
    }

    /// Where the bytes are until ``commit()`` (for verifying them).
    var temporaryURL: URL { URL(fileURLWithPath: file.temporaryPath) }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        try Self.mapped(name) { try file.write(bytes) }
    }

    /// Renames the temporary file to its final name.
    func commit() throws {
        try Self.mapped(name) { try file.commit() }
    }

    /// Deletes the temporary file (nothing after ``commit()``).
    func discard() { file.discard() }

    private static func mapped<R>(_ name: String, _ body: () throws -> R) throws -> R {
        do {
            return try body()
        } catch let error as FileWriteError {
            throw DatasetError.io(file: name, reason: error.reason)
        }
    }
}

/// A one-line progress bar on standard error, drawn only when enabled.
final class ProgressBar: @unchecked Sendable {
    private let name: String
    private let enabled: Bool
    private var lastPermille = -1
    private var drawn = false

    init(name: String, enabled: Bool) {
        self.name = name
        self.enabled = enabled
    }

    func update(received: Int64, total: Int64) {
        guard enabled else { return }
        let megabytes = String(format: "%.1f", Double(received) / 1e6)
        var line: String
        if total > 0 {
            let permille = Int(min(1000, received * 1000 / total))
            guard permille != lastPermille else { return }
            lastPermille = permille
            let width = 30
            let filled = permille * width / 1000
            line = "\r\(name) [" + String(repeating: "#", count: filled)
                + String(repeating: ".", count: width - filled) + "] "
                + String(format: "%5.1f%% ", Double(permille) / 10)
                + "\(megabytes)/" + String(format: "%.1f MB", Double(total) / 1e6)
        } else {
            line = "\r\(name) \(megabytes) MB"
        }
        drawn = true
        fputs(line, stderr)
    }

    func finish() {
        guard enabled, drawn else { return }
        fputs("\n", stderr)
        drawn = false
    }
}
