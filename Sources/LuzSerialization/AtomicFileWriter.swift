import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a file so that readers only ever see the old content or the complete new content:
/// the bytes go to a hidden temporary file in the destination's folder, which is flushed to
/// disk and then renamed over the destination (`rename(2)` replaces a file atomically).
///
/// Every file Luz writes for later reading — weight files, checkpoints, downloads, figures —
/// goes through this one type, so a failure anywhere (a full disk, a read-only folder, a
/// process killed mid-save) has the same outcome: the previous file is intact, the temporary
/// file is removed (or, after a kill, removed by the next write to that folder), and the
/// error names the file and the step that failed.
///
/// ```swift
/// try AtomicFileWriter.write(bytes, to: "weights.safetensors")
///
/// let file = try AtomicFileWriter(path: "big.bin")   // streaming
/// try file.write(chunk)
/// try file.commit()                                   // or let it go: the temporary file is deleted
/// ```
///
/// Temporary files are named `.<name>.<pid>.<random>.partial`, and the writer holds an
/// exclusive `flock(2)` on its file from just after creation until the rename or deletion
/// (a file deleted by another writer's cleanup before the lock is granted is replaced by a
/// new one under a new name). Before a new
/// one is created in the same folder, the `.partial` files that nobody holds locked are
/// deleted: what a killed process left. A process id cannot tell that: across PID namespaces
/// (containers sharing a cache volume) or hosts (NFS) another writer's process is invisible and
/// its live file would be deleted, and a reused id keeps a dead writer's file forever. A lock
/// lives exactly as long as the writer's open file, on every kernel sharing the file system.
public final class AtomicFileWriter {
    /// The file that ``commit()`` creates or replaces.
    public let path: String
    /// The hidden temporary file the bytes are written to until ``commit()``.
    public let temporaryPath: String
    private var descriptor: Int32 = -1
    private var finished = false

    /// Creates the temporary file next to `path`.
    /// - Parameter path: the destination; its folder must exist.
    /// - Throws: ``FileWriteError`` (step ``FileWriteError/Step/create``) when the temporary
    ///   file cannot be created, e.g. in a read-only folder.
    public init(path: String) throws {
        self.path = path
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        AtomicFileWriter.removeStaleTemporaries(in: directory)
        try FaultInjection.check(.create, path: path)
        // Between `open` and `flock` the new file is unlocked, and another writer's cleanup may
        // delete it (it cannot tell it from a dead writer's). The lock is taken blocking, so it
        // is granted only after such a cleanup has unlinked the file; a file found unlinked is
        // given up for a fresh name. A kill anywhere leaves at most an unlocked `.partial`
        // file, which the next write to the folder deletes.
        var attempt = 0
        while true {
            let candidate = directory + "/." + url.lastPathComponent
                + ".\(getpid()).\(String(UInt32.random(in: 0...UInt32.max), radix: 16)).partial"
            let opened = open(candidate, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            guard opened >= 0 else {
                if errno == EEXIST { continue }
                throw FileWriteError(path: path, step: .create, code: errno)
            }
            var locked: Int32
            repeat { locked = flock(opened, LOCK_EX) } while locked != 0 && errno == EINTR
            // Without flock support (the call fails) the file is never deleted by a cleanup.
            var info = stat()
            if locked != 0 || (fstat(opened, &info) == 0 && info.st_nlink > 0) {
                temporaryPath = candidate
                descriptor = opened
                break
            }
            close(opened)
            attempt += 1
            guard attempt < 100 else { throw FileWriteError(path: path, step: .create, code: ENOENT) }
        }
    }

    deinit { discard() }

    /// Appends bytes to the temporary file.
    /// - Throws: ``FileWriteError`` (step ``FileWriteError/Step/write``), e.g. when the disk is
    ///   full; the temporary file is then deleted and the writer can no longer be used.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        require(!finished, "AtomicFileWriter: write after commit or discard of \(path)")
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        var done = 0
        var limit = bytes.count
        if let code = FaultInjection.failure(at: .write, path: path) {
            // A full disk typically accepts part of the data before refusing the rest.
            limit = bytes.count / 2
            defer { discard() }
            while done < limit {
                let n = systemWrite(descriptor, base + done, limit - done)
                if n <= 0 { break }
                done += n
            }
            throw FileWriteError(path: path, step: .write, code: code)
        }
        while done < limit {
            let n = systemWrite(descriptor, base + done, limit - done)
            if n < 0 {
                if errno == EINTR { continue }
                let code = errno
                discard()
                throw FileWriteError(path: path, step: .write, code: code)
            }
            done += n
        }
    }

    /// Appends bytes to the temporary file.
    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Flushes the temporary file to disk and renames it over ``path``.
    /// - Throws: ``FileWriteError`` naming the step that failed (flush, close or rename); the
    ///   temporary file is deleted and the previous file at ``path``, if any, is untouched.
    public func commit() throws {
        require(!finished, "AtomicFileWriter: commit after commit or discard of \(path)")
        func fail(_ step: FileWriteError.Step, _ code: Int32) -> FileWriteError {
            discard()
            return FileWriteError(path: path, step: step, code: code)
        }
        if let code = FaultInjection.failure(at: .sync, path: path) { throw fail(.sync, code) }
        // Without the flush, a power cut right after the rename can leave an empty file under
        // the final name on some file systems (ext4 with delalloc, XFS).
        if fsync(descriptor) != 0 { throw fail(.sync, errno) }
        if let code = FaultInjection.failure(at: .close, path: path) { throw fail(.close, code) }
        if let code = FaultInjection.failure(at: .rename, path: path) { throw fail(.rename, code) }
        // Renamed while still open, so the lock covers the file until it has its final name
        // (closing first would let another process's cleanup delete it in between). The data
        // is on disk already; a failing close after the rename loses nothing.
        if rename(temporaryPath, path) != 0 { throw fail(.rename, errno) }
        close(descriptor)
        descriptor = -1
        finished = true
    }

    /// Deletes the temporary file, leaving ``path`` as it was. Does nothing after ``commit()``.
    public func discard() {
        guard !finished else { return }
        finished = true
        unlink(temporaryPath)      // before closing: unlocked, it would be fair game for a cleanup
        if descriptor >= 0 { close(descriptor) }
        descriptor = -1
    }

    /// Writes `bytes` to `path` atomically.
    /// - Throws: ``FileWriteError`` naming `path` and the step that failed; the previous file
    ///   at `path` is then intact and no temporary file is left.
    public static func write(_ bytes: [UInt8], to path: String) throws {
        let file = try AtomicFileWriter(path: path)
        try file.write(bytes)
        try file.commit()
    }

    /// Writes `data` to `path` atomically, as the `[UInt8]` variant does.
    public static func write(_ data: Data, to path: String) throws {
        let file = try AtomicFileWriter(path: path)
        try data.withUnsafeBytes { try file.write($0) }
        try file.commit()
    }

    /// Deletes the temporary files (`.<name>.<pid>.<random>.partial`) in `directory` that no
    /// writer holds locked: what a process killed in the middle of a write leaves behind. A
    /// live writer's file, in this process or any other sharing the file system, is kept.
    public static func removeStaleTemporaries(in directory: String) {
        let folder = directory.isEmpty ? "." : directory
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return }
        for name in names where name.hasPrefix(".") {
            let path = folder + "/" + name
            if name.hasSuffix(".partial") {
                let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW)
                guard descriptor >= 0 else { continue }
                // Held by nobody: the writer is gone. Deleted while locked, so that no new
                // writer can be confused with it (names are never reused: O_EXCL, random).
                if flock(descriptor, LOCK_EX | LOCK_NB) == 0 { unlink(path) }
                close(descriptor)
            }
        }
    }
}

/// `write(2)`, under a name that the `write` methods do not shadow.
@inline(__always)
private func systemWrite(_ descriptor: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, buffer, count)
}

/// A failed atomic file write: the destination file, the step that failed and the system error.
///
/// ``description`` reads `weights.safetensors: cannot write the temporary file: No space left on device`.
public struct FileWriteError: Error, Equatable, CustomStringConvertible, LocalizedError {
    /// The steps of an atomic write.
    public enum Step: String, Sendable, CaseIterable {
        /// Creating the temporary file next to the destination.
        case create = "create the temporary file"
        /// Writing bytes to the temporary file.
        case write = "write the temporary file"
        /// Flushing the temporary file to disk (`fsync`).
        case sync = "flush the temporary file to disk"
        /// Closing the temporary file.
        case close = "close the temporary file"
        /// Renaming the temporary file over the destination.
        case rename = "rename the temporary file into place"
    }

    /// The destination file.
    public let path: String
    /// The step that failed.
    public let step: Step
    /// The system error number (`errno`), e.g. `ENOSPC` or `EACCES`.
    public let code: Int32

    /// Creates an error.
    public init(path: String, step: Step, code: Int32) {
        self.path = path
        self.step = step
        self.code = code
    }

    /// What failed, without the file name: `cannot write the temporary file: No space left on device`.
    public var reason: String { "cannot \(step.rawValue): \(String(cString: strerror(code)))" }

    /// The file name followed by the reason.
    public var description: String { "\(path): \(reason)" }

    /// The same text as ``description``.
    public var errorDescription: String? { description }
}

/// A fault that tests make ``AtomicFileWriter`` hit, to check what callers do after it.
@_spi(FaultInjection)
public enum FileWriteFault: Sendable {
    /// The step fails with the system error `code` (`ENOSPC`, `EACCES`, …). A failing
    /// ``FileWriteError/Step/write`` writes half the bytes first, as a filling disk does.
    case fail(FileWriteError.Step, code: Int32)
    /// The process is killed with `SIGKILL` just before the step (use in a child process).
    case kill(before: FileWriteError.Step)
}

@_spi(FaultInjection)
extension AtomicFileWriter {
    /// Runs `body` with every atomic write under `directory` hitting `fault`.
    ///
    /// Faults are scoped to a folder so that tests running in parallel, each in its own
    /// temporary folder, do not see each other's faults.
    public static func injectingFault<R>(_ fault: FileWriteFault, intoWritesUnder directory: String,
                                         _ body: () throws -> R) rethrows -> R {
        let key = FaultInjection.add(fault, directory: directory)
        defer { FaultInjection.remove(key) }
        return try body()
    }
}

/// The registry of injected faults, keyed by folder.
enum FaultInjection {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var rules: [Int: (directory: String, fault: FileWriteFault)] = [:]
    nonisolated(unsafe) private static var nextKey = 0

    static func add(_ fault: FileWriteFault, directory: String) -> Int {
        let prefix = URL(fileURLWithPath: directory).standardizedFileURL.path + "/"
        return lock.withLock {
            nextKey += 1
            rules[nextKey] = (prefix, fault)
            return nextKey
        }
    }

    static func remove(_ key: Int) {
        lock.withLock {
            rules[key] = nil
        }
    }

    private static func fault(for path: String) -> FileWriteFault? {
        let standardized = URL(fileURLWithPath: path).standardizedFileURL.path
        return lock.withLock {
            rules.values.first { standardized.hasPrefix($0.directory) }?.fault
        }
    }

    /// The error code `step` must fail with for `path`, killing the process first if asked to.
    static func failure(at step: FileWriteError.Step, path: String) -> Int32? {
        switch fault(for: path) {
        case .fail(let failing, let code)? where failing == step:
            return code
        case .kill(let before)? where before == step:
            kill(getpid(), SIGKILL)
            return nil
        default:
            return nil
        }
    }

    static func check(_ step: FileWriteError.Step, path: String) throws {
        if let code = failure(at: step, path: path) { throw FileWriteError(path: path, step: step, code: code) }
    }
}
