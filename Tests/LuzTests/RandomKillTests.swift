import Foundation
@testable import Luz
import Testing

// A real training process killed with SIGKILL at random moments, several times in a row: each
// rerun resumes from the last checkpoint AutoResume wrote, and the weights at the end are
// bit-for-bit those of a run that was never interrupted.

let randomKillEpochs = 16

func randomKillFolder(pid: Int32) -> String { "/tmp/luz-randomkill-\(pid)" }

func randomKillFit(callbacks: [any Callback]) throws -> FittedModel {
    let (x, y) = blobs(count: 256, seed: 51)
    let setup = TrainingSetup(
        model: { _ in Sequential { Linear(2, 16); ReLU(); Dropout(probability: 0.2); Linear(16, 2) } },
        loss: CrossEntropyLoss(), metrics: [Accuracy()])
    return try setup.learningRate(0.02)
        .fit(.tensors(x, y, batchSize: 16, shuffle: true), epochs: EpochSpec(randomKillEpochs), validData: 0.25,
             callbacks: callbacks + [EarlyStopping(monitor: "valid_loss", patience: 100),
                                     LRSchedulerCallback { StepLR(optimizer: $0, stepSize: 3, gamma: 0.8) }],
             verbose: false, seed: 77)
}

/// Appends a line to the scenario's log (one line per process: how far it got).
func appendLog(_ line: String, folder: String) {
    let path = folder + "/log.txt"
    if let handle = FileHandle(forWritingAtPath: path) {
        handle.seekToEndOfFile()
        handle.write(Data((line + "\n").utf8))
        try? handle.close()
    } else {
        try? (line + "\n").write(toFile: path, atomically: false, encoding: .utf8)
    }
}

/// One attempt: trains with AutoResume; from the start of its second epoch a thread kills the
/// process with SIGKILL after a random delay of up to two epochs' duration, wherever the
/// training is (mid-batch, mid-validation, mid-checkpoint-save). A process that finishes first
/// kills itself, so every attempt ends the same way (and one that resumed with no epoch left to
/// train, whose killer was never armed, does not wait forever).
func randomKillAttempt() -> Never {
    let folder = randomKillFolder(pid: getppid())
    let auto = AutoResume(path: folder + "/run.ckpt")
    var epochStart = Date()
    var epochSeconds: Double?
    let killer = LambdaCallback { event, context in
        switch event {
        case .fitBegin:
            appendLog("resumed-from \(auto.resumedFromEpoch ?? 0)", folder: folder)
        case .epochEnd where epochSeconds == nil:
            epochSeconds = max(Date().timeIntervalSince(epochStart), 0.005)
        case .epochBegin:
            epochStart = Date()
            // Armed once the process's first checkpoint is on disk (AutoResume saves last at the
            // end of the epoch), so that every attempt moves the run forward.
            if let seconds = epochSeconds, seconds > 0 {
                epochSeconds = 0
                let delay = Double.random(in: 0..<(2 * seconds))
                Thread.detachNewThread {
                    Thread.sleep(forTimeInterval: delay)
                    kill(getpid(), SIGKILL)
                }
            }
        default:
            break
        }
    }
    _ = try? randomKillFit(callbacks: [killer, auto])
    kill(getpid(), SIGKILL)
    while true { pause() }
}

/// The final attempt: resumes and completes the run, saving the weights.
func randomKillCompletion() -> Int32 {
    let folder = randomKillFolder(pid: getppid())
    let auto = AutoResume(path: folder + "/run.ckpt")
    do {
        let fitted = try randomKillFit(callbacks: [auto])
        appendLog("completed-from \(auto.resumedFromEpoch ?? 0)", folder: folder)
        guard fitted.epochsTrained == randomKillEpochs else { return 3 }
        try fitted.model.save(to: folder + "/resumed.safetensors")
        return 0
    } catch {
        print("completion failed: \(error)")
        return 4
    }
}

/// An uninterrupted run; compares its weights bit for bit with the resumed run's.
func randomKillReference() -> Int32 {
    let folder = randomKillFolder(pid: getppid())
    do {
        let clean = try randomKillFit(callbacks: [])
        let resumed = try StateDict(contentsOf: folder + "/resumed.safetensors")
        let reference = clean.model.stateDict()
        guard resumed.keys == reference.keys else { return 5 }
        for (name, tensor) in reference {
            guard let other = resumed[name], other.shape == tensor.shape,
                  other.floats.map(\.bitPattern) == tensor.floats.map(\.bitPattern) else {
                print("\(name) differs from the uninterrupted run")
                return 6
            }
        }
        return 0
    } catch {
        print("reference failed: \(error)")
        return 7
    }
}

@Suite("SIGKILL at random moments")
struct RandomKillTests {
    @Test func repeatedlyKilledTrainingEndsWithTheUninterruptedWeights() async throws {
        let folder = randomKillFolder(pid: getpid())
        try? FileManager.default.removeItem(atPath: folder)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }

        for _ in 0..<4 {
            await #expect(processExitsWith: .signal(SIGKILL)) { randomKillAttempt() }
        }
        await #expect(processExitsWith: .success) { exit(randomKillCompletion()) }
        await #expect(processExitsWith: .success) { exit(randomKillReference()) }

        let log = try String(contentsOfFile: folder + "/log.txt", encoding: .utf8).split(separator: "\n")
        print("random kills: \(log.joined(separator: ", "))")
        #expect(log.count == 5)
        // Every attempt ran at least one epoch before its kill, so the later ones resumed.
        #expect(log.filter { !$0.hasSuffix(" 0") }.count >= 3, "\(log)")
        // Nothing is left but the log and the saved weights: no checkpoint, no temporary file.
        let left = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
        #expect(left == ["log.txt", "resumed.safetensors"])
    }
}
