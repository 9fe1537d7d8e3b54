import Foundation
import FuzzSupport
import Luz

// Luz checkpoints: parsing, then resuming a run from them (weights, optimizer and callback
// state, records, generator state), which is what a damaged checkpoint file reaches.
//
// With LUZ_FUZZ_WRITE_SEED=<file> the program instead writes a real checkpoint of the run it
// fuzzes to <file> (the seed in Corpus/checkpoint) and exits.

// Eight points in batches of four: two training steps per epoch.
let points = Tensor([[-1, -1], [1, 1], [-1, 1], [1, -1], [-2, -2], [2, 2], [-2, 2], [2, -2]] as [[Float]])
let labels = Tensor([0, 1, 0, 1, 0, 1, 0, 1] as [Int64])
let trainingData = DataSource.tensors(points, labels, batchSize: 4)
let setup = TrainingSetup(model: { _ in Sequential { Linear(2, 3); ReLU(); Linear(3, 2) } },
                          loss: CrossEntropyLoss(), metrics: [Accuracy()])
/// The callbacks whose state checkpoints carry.
func callbacks() -> [any Callback] {
    [EarlyStopping(monitor: "train_loss", patience: 5),
     LRSchedulerCallback { StepLR(optimizer: $0, stepSize: 1, gamma: 0.5) }]
}
let file = FileManager.default.temporaryDirectory.appendingPathComponent("luz-fuzz-checkpoint-\(getpid()).safetensors").path

@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = fuzzInput(data, size)
    guard (try? Checkpoint(bytes: bytes, name: "fuzz.checkpoint")) != nil else { return 0 }
    // The bytes parse as a checkpoint: resume a short run from them.
    guard (try? AtomicFileWriter.write(bytes, to: file)) != nil else { return 0 }
    // libFuzzer ends with _Exit (no atexit handlers): leave no scratch file behind.
    defer { unlink(file) }
    _ = try? setup.fit(trainingData, epochs: EpochSpec(1...2),
                       callbacks: [ResumeFromCheckpoint(path: file)] + callbacks(),
                       verbose: false, seed: 1)
    return 0
}

if let seed = ProcessInfo.processInfo.environment["LUZ_FUZZ_WRITE_SEED"] {
    let copy = LambdaCallback { event, _ in
        if event == .fitEnd { try FileManager.default.copyItem(atPath: file, toPath: seed) }
    }
    _ = try setup.fit(trainingData, epochs: 2,
                      callbacks: callbacks() + [AutoResume(path: file), copy],
                      verbose: false, seed: 1)
    exit(0)
}
runFuzzer(testOneInput)
