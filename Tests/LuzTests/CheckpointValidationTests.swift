import Foundation
@testable import Luz
import LuzTestSupport
import Testing

// What a checkpoint holds is checked before a run uses it: the optimizer's type, every value
// (finite, in range, a usable generator state, epochs that agree), the bytes of every tensor
// (a checksum), the format version. A refused checkpoint leaves the model as it was, and the
// error names the file and the entry.

/// Writes a real checkpoint, applies `edit` to it and expects reading it back to fail with an
/// error naming the file and holding `text`.
func expectCheckpointRefused(after edit: (inout StateDict) -> Void, saying text: String,
                             sourceLocation: SourceLocation = #_sourceLocation) throws {
    let folder = try TemporaryFolder("luz-validate")
    defer { folder.remove() }
    let path = try writeParsingCheckpoint(folder: folder.path)
    var state = try StateDict(contentsOf: path)
    edit(&state)
    try state.save(to: path)
    #expect(sourceLocation: sourceLocation) { try Checkpoint(contentsOf: path) } throws: { error in
        "\(error)".contains(path) && "\(error)".contains(text)
    }
}

/// A checkpoint after two epochs of `parsingSetup` trained with `optimizer`.
func checkpoint(with optimizer: Optimizer.Type, folder: String) throws -> String {
    struct Stop: Error {}
    let (x, y) = blobs(count: 32, seed: 61)
    let stop = LambdaCallback { event, _ in if event == .fitEnd { throw Stop() } }
    let path = folder + "/run.ckpt"
    let setup = TrainingSetup(model: { _ in Sequential { Linear(2, 3); ReLU(); Linear(3, 2) } },
                              loss: CrossEntropyLoss(), optimizer: optimizer)
    do {
        _ = try setup.fit(.tensors(x, y, batchSize: 8), epochs: 2, callbacks: [AutoResume(path: path), stop],
                          verbose: false, seed: 2)
    } catch let error as CallbackError where error.underlying is Stop {}
    return path
}

@Suite("Checkpoint validation")
struct CheckpointValidationTests {
    @Test(arguments: [(SGD.self as Optimizer.Type, "SGD"), (AdamW.self, "AdamW")])
    func aCheckpointOfAnotherOptimizerSaysWhichSavedIt(_ saved: Optimizer.Type, name: String) throws {
        let scratch = try TemporaryFolder("luz-validate")
        defer { scratch.remove() }
        let folder = scratch.path
        let path = try checkpoint(with: saved, folder: folder)
        let (x, y) = blobs(count: 32, seed: 61)
        let setup = TrainingSetup(model: { _ in Sequential { Linear(2, 3); ReLU(); Linear(3, 2) } },
                                  loss: CrossEntropyLoss(), optimizer: Adam.self)
        #expect {
            _ = try setup.fit(.tensors(x, y, batchSize: 8), epochs: 3, callbacks: [AutoResume(path: path)], verbose: false)
        } throws: { error in
            let text = "\(error)"
            return text.contains(path) && text.contains("saved by \(name), this optimizer is Adam")
        }
    }

    /// Values a damaged file can hold, by entry: each must be refused naming the entry and the file.
    @Test(arguments: [
        ("optimizer.opt.param_groups.0.lr", Tensor(scalar: Double.nan), "param_groups.0.lr"),
        ("optimizer.opt.param_groups.0.lr", Tensor(scalar: -0.5), "param_groups.0.lr"),
        ("optimizer.opt.hyperparameters.beta1", Tensor(scalar: Double.infinity), "hyperparameters.beta1"),
        ("optimizer.opt.state.0.exp_avg", Tensor.full([3, 2], value: .nan), "state.0.exp_avg"),
        ("callback.EarlyStopping.bestValue", Tensor(scalar: Double.nan), "bestValue"),
        ("callback.LRSchedulerCallback.base_lrs", Tensor([Double.infinity]), "base_lrs"),
        ("generator.default.state", Tensor([Int64](repeating: 0, count: 7), shape: [7]), "all-zero"),
        ("generator.default.state", Tensor([Int64](repeating: 1, count: 3), shape: [3]), "int64 [7]"),
    ])
    func damagedValuesAreRefusedNamingTheEntryAndTheFile(key: String, value: Tensor, named: String) throws {
        let scratch = try TemporaryFolder("luz-validate")
        defer { scratch.remove() }
        let folder = scratch.path
        let path = try writeParsingCheckpoint(folder: folder)
        var state = try StateDict(contentsOf: path)
        #expect(state[key] != nil, "\(key) is not in the checkpoint: \(state.keys)")
        state[key] = value
        try state.save(to: path)
        let (x, y) = blobs(count: 32, seed: 61)
        #expect {
            _ = try parsingSetup().fit(.tensors(x, y, batchSize: 8, shuffle: true), epochs: 3,
                                       callbacks: parsingCallbacks() + [AutoResume(path: path)], verbose: false)
        } throws: { error in
            "\(error)".contains(path) && "\(error)".contains(named)
        }
    }

    @Test func epochsThatDisagreeWithTheRecordsAreRefused() throws {
        // The records hold epoch 2.
        try expectCheckpointRefused(after: { $0.metadata["luz.epoch"] = "1" },
                                    saying: "luz.records has a row for epoch 2, outside 1...1")
    }

    @Test func aNewerFormatSaysSo() throws {
        try expectCheckpointRefused(after: { $0.metadata["luz.format"] = "2" },
                                    saying: "format 2 is newer than this Luz reads (1)")
    }

    @Test func aFlippedBitInAWeightNamesTheTensor() throws {
        let scratch = try TemporaryFolder("luz-validate")
        defer { scratch.remove() }
        let folder = scratch.path
        let path = try writeParsingCheckpoint(folder: folder)
        let first = try #require(StateDict(contentsOf: path).keys.first)
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let headerLength = Int(bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        bytes[8 + headerLength + 1] ^= 0x08      // inside the first tensor of the data section
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect { try Checkpoint(contentsOf: path) } throws: { error in
            "\(error)".contains(path) && "\(error)".contains("damaged") && "\(error)".contains("'\(first)'")
        }
    }

    /// The model and optimizer are restored before the callbacks; when a callback refuses its
    /// state, both are put back.
    @Test func aResumeThatFailsHalfwayLeavesTheModelAsItWas() throws {
        let scratch = try TemporaryFolder("luz-validate")
        defer { scratch.remove() }
        let folder = scratch.path
        let path = try writeParsingCheckpoint(folder: folder)
        var state = try StateDict(contentsOf: path)
        state["callback.EarlyStopping.wait"] = Tensor(scalar: -1.0)
        try state.save(to: path)

        let (x, y) = blobs(count: 32, seed: 63)
        let fitted = try parsingSetup().fit(.tensors(x, y, batchSize: 8), epochs: 1, verbose: false, seed: 9)
        let weights = fitted.model.stateDict().cloned()
        let optimizerState = fitted.optimizers[0].optimizer.stateDict()
        #expect(throws: LuzError.self) {
            try fitted.fit(.tensors(x, y, batchSize: 8), epochs: 1,
                           callbacks: parsingCallbacks() + [ResumeFromCheckpoint(path: path)], verbose: false)
        }
        for (key, tensor) in weights {
            #expect(fitted.model.stateDict()[key]!.doubles == tensor.doubles, "\(key) changed")
        }
        let after = fitted.optimizers[0].optimizer.stateDict()
        #expect(after.keys == optimizerState.keys)
        for (key, tensor) in optimizerState {
            #expect(after[key]!.doubles == tensor.doubles, "optimizer \(key) changed")
        }
    }
}
