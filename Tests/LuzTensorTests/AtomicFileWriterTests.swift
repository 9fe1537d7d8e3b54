import Foundation
@_spi(FaultInjection) import LuzSerialization
import Testing

/// A fresh folder under the system's temporary directory.
func makeScratchFolder() throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("luz-atomic-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func folderContents(_ path: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
}

/// Writes through the atomic writer while `fault` is injected, in a child process where the
/// fault kills the process; run by an exit test.
func killedWriteScenario(folder: String, before step: FileWriteError.Step) -> Never {
    AtomicFileWriter.injectingFault(.kill(before: step), intoWritesUnder: folder) {
        _ = try? AtomicFileWriter.write(Array("new content".utf8), to: folder + "/data.bin")
    }
    exit(0)   // not reached: the fault kills the process
}

@Suite("Atomic file writes and injected faults")
struct AtomicFileWriterTests {
    let old = Array("previous content".utf8)

    @Test func writesAndReplacesLeavingOnlyTheFile() throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/data.bin"
        try AtomicFileWriter.write(old, to: path)
        try AtomicFileWriter.write(Array("new".utf8), to: path)
        #expect(FileManager.default.contents(atPath: path) == Data("new".utf8))
        #expect(folderContents(folder) == ["data.bin"])
    }

    @Test(arguments: [
        (FileWriteError.Step.create, EACCES), (.write, ENOSPC), (.sync, EIO), (.rename, EACCES),
    ])
    func aFailedStepKeepsThePreviousFileAndNamesFileAndStep(step: FileWriteError.Step, code: Int32) throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/data.bin"
        try AtomicFileWriter.write(old, to: path)
        let big = [UInt8](repeating: 7, count: 100_000)
        #expect {
            try AtomicFileWriter.injectingFault(.fail(step, code: code), intoWritesUnder: folder) {
                try AtomicFileWriter.write(big, to: path)
            }
        } throws: { error in
            guard let error = error as? FileWriteError else { return false }
            return error.step == step && error.code == code && error.path == path
                && "\(error)".contains("data.bin") && "\(error)".contains(String(cString: strerror(code)))
        }
        #expect(FileManager.default.contents(atPath: path) == Data(old))
        #expect(folderContents(folder) == ["data.bin"])
    }

    @Test func faultsStayInTheirFolder() throws {
        let folder = try makeScratchFolder(), other = try makeScratchFolder()
        defer {
            try? FileManager.default.removeItem(atPath: folder)
            try? FileManager.default.removeItem(atPath: other)
        }
        try AtomicFileWriter.injectingFault(.fail(.write, code: ENOSPC), intoWritesUnder: folder) {
            try AtomicFileWriter.write(old, to: other + "/data.bin")
        }
        #expect(FileManager.default.contents(atPath: other + "/data.bin") == Data(old))
    }

    @Test func aRealPermissionErrorNamesTheFile() throws {
        // Root ignores directory permissions; the injected variant above covers that case.
        guard getuid() != 0 else { return }
        let folder = try makeScratchFolder()
        defer { chmod(folder, 0o755); try? FileManager.default.removeItem(atPath: folder) }
        chmod(folder, 0o555)
        #expect(throws: FileWriteError(path: folder + "/x", step: .create, code: EACCES)) {
            try AtomicFileWriter.write(old, to: folder + "/x")
        }
    }

    @Test func aDiscardedWriterLeavesNothing() throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        do {
            let writer = try AtomicFileWriter(path: folder + "/data.bin")
            try writer.write(old)
            #expect(FileManager.default.fileExists(atPath: writer.temporaryPath))
        }
        #expect(folderContents(folder).isEmpty)
    }

    @Test(arguments: [FileWriteError.Step.write, .rename])
    func aProcessKilledMidWriteLeavesThePreviousFileAndTheNextWriteCleansUp(step: FileWriteError.Step) async throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try AtomicFileWriter.write(old, to: folder + "/data.bin")
        // The child reads the folder from a file named after its parent (exit tests capture nothing).
        try folder.write(toFile: "/tmp/luz-atomic-kill-\(getpid())-\(step)", atomically: false, encoding: .utf8)
        defer { unlink("/tmp/luz-atomic-kill-\(getpid())-\(step)") }
        if step == .write {
            await #expect(processExitsWith: .signal(SIGKILL)) {
                exit(killedWriteScenarioFromFile(step: .write))
            }
        } else {
            await #expect(processExitsWith: .signal(SIGKILL)) {
                exit(killedWriteScenarioFromFile(step: .rename))
            }
        }
        #expect(FileManager.default.contents(atPath: folder + "/data.bin") == Data(old))
        let leftovers = folderContents(folder).filter { $0.hasSuffix(".partial") }
        #expect(leftovers.count == 1)   // the killed process's temporary file
        try AtomicFileWriter.write(Array("after".utf8), to: folder + "/data.bin")
        #expect(folderContents(folder) == ["data.bin"])
    }
}

@Suite("Atomic writes: stale temporary files")
struct StaleTemporaryTests {
    /// A live writer in another PID namespace (a container sharing the cache) names a process
    /// this one cannot see; its file is locked, so it is kept. The pid-based cleanup deleted it.
    @Test func aLockedFileOfAnInvisibleProcessIsKept() throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let invisible = (4_194_305...).first { kill(Int32($0), 0) != 0 && errno == ESRCH }!
        let path = folder + "/.data.bin.\(invisible).1a2b.partial"
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        #expect(descriptor >= 0)
        defer { close(descriptor) }
        #expect(flock(descriptor, LOCK_EX | LOCK_NB) == 0)
        AtomicFileWriter.removeStaleTemporaries(in: folder)
        #expect(folderContents(folder) == [".data.bin.\(invisible).1a2b.partial"])
        try AtomicFileWriter.write(Array("new".utf8), to: folder + "/data.bin")
        #expect(folderContents(folder).sorted() == [".data.bin.\(invisible).1a2b.partial", "data.bin"])
    }

    /// A file nobody holds is a dead writer's, even when it names this process (a reused id).
    @Test func anUnlockedFileIsRemovedWhateverItsProcessId() throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try Data([1]).write(to: URL(fileURLWithPath: folder + "/.data.bin.\(getpid()).77.partial"))
        let live = try AtomicFileWriter(path: folder + "/other.bin")
        AtomicFileWriter.removeStaleTemporaries(in: folder)
        #expect(folderContents(folder) == [URL(fileURLWithPath: live.temporaryPath).lastPathComponent])
        try live.write([1, 2])
        try live.commit()
        #expect(folderContents(folder) == ["other.bin"])
    }

    /// A writer's file is unlocked for an instant after its creation, and a cleanup running then
    /// deletes it; the writer must notice and start again under a new name. Writers racing a
    /// cleanup that runs without pause all commit their content, and nothing is left over.
    @Test func writersRacingACleanupAllCommit() async throws {
        let folder = try makeScratchFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let stop = Flag()
        let cleaner = Thread {
            while !stop.isSet { AtomicFileWriter.removeStaleTemporaries(in: folder) }
        }
        cleaner.start()
        defer { stop.set() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<4 {
                group.addTask {
                    for round in 0..<200 {
                        let bytes = Array("\(writer)-\(round)".utf8)
                        try AtomicFileWriter.write(bytes, to: folder + "/file\(writer).bin")
                        #expect(FileManager.default.contents(atPath: folder + "/file\(writer).bin") == Data(bytes))
                    }
                }
            }
            try await group.waitForAll()
        }
        stop.set()
        while !cleaner.isFinished { usleep(1000) }
        #expect(folderContents(folder).sorted() == (0..<4).map { "file\($0).bin" })
    }
}

/// A flag set once from one thread and read from another.
private final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
    func set() { lock.lock(); value = true; lock.unlock() }
}

/// The scenario of `aProcessKilledMidWrite…`, reading its folder from the parent's file.
func killedWriteScenarioFromFile(step: FileWriteError.Step) -> Int32 {
    guard let folder = try? String(contentsOfFile: "/tmp/luz-atomic-kill-\(getppid())-\(step)", encoding: .utf8) else {
        return 3
    }
    killedWriteScenario(folder: folder, before: step)
}
