import Foundation
@testable import Luz
import Testing

// Damaged checkpoints found by fuzzing (Fuzz/fuzz-checkpoint) and the fixes' regression tests:
// every bad value is a thrown error naming the file and the entry, never a crash.

func parsingSetup() -> TrainingSetup {
    TrainingSetup(model: { _ in Sequential { Linear(2, 3); ReLU(); Linear(3, 2) } },
                  loss: CrossEntropyLoss(), metrics: [Accuracy()])
}

func parsingCallbacks() -> [any Callback] {
    [EarlyStopping(monitor: "train_loss", patience: 5), LRSchedulerCallback { StepLR(optimizer: $0, stepSize: 1) }]
}

/// A real checkpoint after two epochs, at `folder/run.ckpt`.
func writeParsingCheckpoint(folder: String) throws -> String {
    struct Stop: Error {}
    let (x, y) = blobs(count: 32, seed: 61)
    let stop = LambdaCallback { event, _ in if event == .fitEnd { throw Stop() } }
    let path = folder + "/run.ckpt"
    do {
        _ = try parsingSetup().fit(.tensors(x, y, batchSize: 8), epochs: 2,
                                   callbacks: parsingCallbacks() + [AutoResume(path: path), stop], verbose: false, seed: 2)
    } catch let error as CallbackError where error.underlying is Stop {}
    return path
}

@Suite("Damaged checkpoints")
struct CheckpointParsingTests {
    func folder() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("luz-ckpt-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Fuzzing found that a run whose records held NaN (a diverged loss, an epoch without
    /// batches) wrote an empty `luz.records` field, so that its checkpoint could not be read.
    @Test func recordsHoldingNaNAndInfinitySurviveACheckpoint() throws {
        var records = Records()
        records.record(set: "train", metric: "loss", epoch: 1, value: .nan)
        records.record(set: "train", metric: "acc", epoch: 1, value: .infinity)
        records.record(set: "train", metric: "lr", epoch: 1, value: 0.5)
        let text = Checkpoint.json(records)
        let decoded = try Checkpoint.decode(Records.self, text, path: "x", field: "luz.records")
        #expect(decoded.value(set: "train", metric: "loss")?.isNaN == true)
        #expect(decoded.value(set: "train", metric: "acc") == .infinity)
        #expect(decoded.value(set: "train", metric: "lr") == 0.5)
    }

    /// A fit on fewer rows than a batch used to "succeed" with a NaN loss (and fuzzing found its
    /// checkpoint unreadable); it is an error that says why, as is a fit on no data.
    @Test func aFitWithoutBatchesIsAnErrorThatSaysWhy() throws {
        let (x, y) = blobs(count: 4, seed: 62)
        #expect { _ = try parsingSetup().fit(inputs: x, targets: y, epochs: 1, verbose: false) } throws: { error in
            "\(error)".contains("4 training examples make no full batch of 32") && "\(error)".contains("dropLast: false")
        }
        let none = (Tensor.zeros([0, 2]), Tensor.zeros([0], dtype: .int64))
        #expect { _ = try parsingSetup().fit(.tensors(none.0, none.1), epochs: 1, verbose: false) } throws: { error in
            "\(error)".contains("the training data has no examples")
        }
        // Without dropLast the partial batch trains.
        _ = try parsingSetup().fit(.tensors(x, y, batchSize: 32, dropLast: false), epochs: 1, verbose: false)
    }

    /// Counters and scalars with impossible values: each reached `Int(_:)` or `Tensor.item`
    /// and stopped the program before the fix.
    @Test(arguments: [
        ("optimizer.opt.step_count", Tensor(scalar: Int64.max), "step_count"),
        ("optimizer.opt.param_groups.0.size", Tensor(scalar: Double.nan), "param_groups.0.size"),
        ("optimizer.opt.state.0.step", Tensor(scalar: Double.infinity), "state.0.step"),
        ("optimizer.opt.param_groups.0.lr", Tensor([0.1, 0.2]), "param_groups.0.lr"),
        ("callback.EarlyStopping.wait", Tensor(scalar: -3.0), "wait"),
        ("callback.EarlyStopping.bestValue", Tensor([1.0, 2.0]), "bestValue"),
        ("callback.LRSchedulerCallback.last_epoch", Tensor(scalar: 1e300), "last_epoch"),
    ])
    func impossibleValuesAreErrorsNamingTheEntry(key: String, value: Tensor, named: String) throws {
        let dir = try folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = try writeParsingCheckpoint(folder: dir)
        var state = try StateDict(contentsOf: path)
        #expect(state[key] != nil)
        state[key] = value
        try state.save(to: path)
        let (x, y) = blobs(count: 32, seed: 61)
        #expect {
            _ = try parsingSetup().fit(.tensors(x, y, batchSize: 8), epochs: 3,
                                       callbacks: parsingCallbacks() + [ResumeFromCheckpoint(path: path)], verbose: false)
        } throws: { error in
            "\(error)".contains(named)
        }
    }

    @Test func anEpochNumberThatWouldOverflowIsRefused() throws {
        try expectCheckpointRefused(after: { $0.metadata["luz.epoch"] = String(Int.max) }, saying: "luz.epoch")
    }

    /// Found by the checkpoint fuzzer: epoch 0 with a recorded row stopped the program
    /// (`1...0` is no range) instead of refusing the file.
    @Test func anEpochZeroCheckpointWithRecordsIsRefused() throws {
        try expectCheckpointRefused(after: { $0.metadata["luz.epoch"] = "0" }, saying: "luz.records")
    }

    @Test func checkpointsParseFromMemoryToo() throws {
        let dir = try folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = try writeParsingCheckpoint(folder: dir)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(try Checkpoint(bytes: bytes, name: "run.ckpt").epoch == 2)
        #expect(throws: (any Error).self) { try Checkpoint(bytes: Array(bytes.prefix(100)), name: "cut.ckpt") }
    }
}
