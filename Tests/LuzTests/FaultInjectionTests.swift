import Foundation
@testable import Luz
@_spi(FaultInjection) import LuzSerialization
import Testing

// Checkpoints and weight files under injected write faults: after each one the previous
// checkpoint is intact and loadable, no temporary file is left, and the error names the file
// and what failed.

/// The folder of a fault scenario, named after the test process so that exit tests (which
/// capture nothing) find it: `getpid()` in the test, `getppid()` in its child.
func faultFolder(_ name: String, pid: Int32) -> String { "/tmp/luz-fault-\(name)-\(pid)" }

func faultSetup() -> TrainingSetup {
    TrainingSetup(model: { _ in Sequential { Linear(2, 8); ReLU(); Linear(8, 2) } },
                  loss: CrossEntropyLoss(), metrics: [Accuracy()])
}

/// Fits `epochs` epochs with AutoResume at `folder/run.ckpt`; the checkpoint stays on disk
/// (the run is stopped by an error at its end, before AutoResume deletes the file).
func leaveCheckpoint(folder: String, epochs: Int) throws {
    struct Stop: Error {}
    let (x, y) = blobs(count: 64, seed: 31)
    let stop = LambdaCallback { event, _ in if event == .fitEnd { throw Stop() } }
    do {
        _ = try faultSetup().fit(inputs: x, targets: y, epochs: EpochSpec(epochs),
                                 callbacks: [AutoResume(path: folder + "/run.ckpt"), stop], verbose: false, seed: 5)
    } catch let error as CallbackError where error.underlying is Stop {}
}

/// Resumes the run of `leaveCheckpoint` for `epochs` epochs in all; run by an exit test with
/// the fault killing the process just before the checkpoint's rename.
func killedCheckpointScenario() -> Int32 {
    let folder = faultFolder("kill", pid: getppid())
    let (x, y) = blobs(count: 64, seed: 31)
    AtomicFileWriter.injectingFault(.kill(before: .rename), intoWritesUnder: folder) {
        _ = try? faultSetup().fit(inputs: x, targets: y, epochs: 4,
                                  callbacks: [AutoResume(path: folder + "/run.ckpt")], verbose: false, seed: 5)
    }
    return 3   // not reached
}

func partialFiles(in folder: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasSuffix(".partial") }
}

@Suite("Checkpoints under write faults")
struct CheckpointFaultTests {
    @Test(arguments: [(FileWriteError.Step.write, ENOSPC, "No space left on device"),
                      (.create, EACCES, "Permission denied"),
                      (.rename, EACCES, "Permission denied")])
    func aFailedCheckpointSaveKeepsThePreviousOne(step: FileWriteError.Step, code: Int32, text: String) throws {
        let folder = faultFolder("\(step)", pid: getpid())
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/run.ckpt"
        try leaveCheckpoint(folder: folder, epochs: 2)
        let before = try #require(FileManager.default.contents(atPath: path))
        #expect(try Checkpoint(contentsOf: path).epoch == 2)

        let (x, y) = blobs(count: 64, seed: 31)
        let auto = AutoResume(path: path)
        #expect {
            try AtomicFileWriter.injectingFault(.fail(step, code: code), intoWritesUnder: folder) {
                _ = try faultSetup().fit(inputs: x, targets: y, epochs: 4, callbacks: [auto], verbose: false, seed: 5)
            }
        } throws: { error in
            let message = "\(error)"
            return message.contains(path) && message.contains(step.rawValue) && message.contains(text)
        }
        #expect(auto.resumedFromEpoch == 2)
        #expect(FileManager.default.contents(atPath: path) == before)
        #expect(try Checkpoint(contentsOf: path).epoch == 2)
        #expect(partialFiles(in: folder).isEmpty)
    }

    @Test func aRunKilledBetweenWriteAndRenameResumesFromThePreviousCheckpoint() async throws {
        let folder = faultFolder("kill", pid: getpid())
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/run.ckpt"
        try leaveCheckpoint(folder: folder, epochs: 2)
        let before = try #require(FileManager.default.contents(atPath: path))

        await #expect(processExitsWith: .signal(SIGKILL)) { exit(killedCheckpointScenario()) }
        #expect(FileManager.default.contents(atPath: path) == before)
        #expect(partialFiles(in: folder).count == 1)   // the killed process's complete but unrenamed file

        let (x, y) = blobs(count: 64, seed: 31)
        let auto = AutoResume(path: path)
        let fitted = try faultSetup().fit(inputs: x, targets: y, epochs: 4, callbacks: [auto], verbose: false, seed: 5)
        #expect(auto.resumedFromEpoch == 2 && fitted.epochsTrained == 4)
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).isEmpty)
    }

    @Test func aFailedWeightFileSaveKeepsThePreviousFile() throws {
        let folder = faultFolder("weights", pid: getpid())
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/model.safetensors"
        let first = Sequential { Linear(3, 2) }
        try first.save(to: path)
        let second = Sequential { Linear(3, 2) }
        #expect {
            try AtomicFileWriter.injectingFault(.fail(.write, code: ENOSPC), intoWritesUnder: folder) {
                try second.save(to: path)
            }
        } throws: { error in
            guard let error = error as? WeightFileError else { return false }
            return error.file == path && error.reason == "cannot write the temporary file: No space left on device"
        }
        let reloaded = Sequential { Linear(3, 2) }
        try reloaded.load(from: path)
        #expect(reloaded.parameters().map(\.floats) == first.parameters().map(\.floats))
        #expect(partialFiles(in: folder).isEmpty)
    }
}
