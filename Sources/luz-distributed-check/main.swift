// luz-distributed-check: one small data-parallel training run, for LuzDistributedTests to launch
// under `mpirun` (and once without it, as the single-process reference).
//
// A two-layer float64 classifier on 96 seeded points, trained with Adam on shuffled batches of
// `--batch` examples per process, validated on 48 more. Every process starts from different
// random weights (seeded with its rank), so the run also shows that rank 0's state reaches all.
// Rank 0 prints one line per epoch (`epoch=E train_loss=… valid_loss=… valid_acc=…`) and writes
// the final weights; options make a rank die, hang, throw, or every rank stop after an epoch, and
// make each process work in its own folder (as on machines that share no disk).
import Foundation
import Luz
import LuzDistributed

#if canImport(Glibc)
import Glibc
#endif

/// The command line, as `--name value` pairs.
struct Options {
    var values: [String: String] = [:]

    init(_ arguments: [String]) {
        var index = 0
        while index < arguments.count {
            let key = arguments[index]
            guard key.hasPrefix("--"), index + 1 < arguments.count else {
                fputs("luz-distributed-check: expected --name value pairs, got '\(key)'\n", stderr)
                exit(2)
            }
            values[String(key.dropFirst(2))] = arguments[index + 1]
            index += 2
        }
    }

    func int(_ name: String, _ fallback: Int) -> Int {
        guard let text = values[name] else { return fallback }
        guard let value = Int(text) else {
            fputs("luz-distributed-check: --\(name) must be a whole number, got '\(text)'\n", stderr)
            exit(2)
        }
        return value
    }

    subscript(_ name: String) -> String? { values[name] }
}

struct Stop: Error, CustomStringConvertible {
    let description: String
}

let options = Options(Array(CommandLine.arguments.dropFirst()))
let group: any ProcessGroup
do {
    group = try MPIProcessGroup.launched() ?? SingleProcessGroup()
} catch {
    fputs("luz-distributed-check: \(error)\n", stderr)
    exit(1)
}
let rank = group.rank

if let base = options["workdir-per-rank"] {
    let folder = base + "/rank\(rank)"
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    _ = FileManager.default.changeCurrentDirectoryPath(folder)
}

// The data: the same on every process (its own seed, not the rank's).
let dataGenerator = Generator(seed: 11)
func points(_ count: Int) -> (Tensor, Tensor) {
    let x = Tensor.randn([count, 6], dtype: .float64, generator: dataGenerator)
    let score = x.narrowed(dim: 1, start: 0, length: 3).sum(dim: 1) - x.narrowed(dim: 1, start: 3, length: 3).sum(dim: 1)
    let labels = score.scalars(as: Double.self).map { Int64($0 < -0.5 ? 0 : $0 < 0.5 ? 1 : 2) }
    return (x, Tensor(labels, shape: [count]))
}
let (trainX, trainY) = points(96)
let (validX, validY) = points(48)
// Each example by its first feature, to report which examples a process saw.
var exampleIndex: [UInt64: Int] = [:]
for (index, value) in trainX.narrowed(dim: 1, start: 0, length: 1).scalars(as: Double.self).enumerated() {
    exampleIndex[value.bitPattern] = index
}

// Different initial weights on every process: rank 0's must reach them all.
manualSeed(UInt64(100 + rank))
let model = Sequential {
    Linear(6, 16, dtype: .float64)
    Tanh()
    Linear(16, 3, dtype: .float64)
}

var seen: [String] = []
var callbacks: [any Callback] = [
    DistributedDataParallel(group, bucketMegabytes: Double(options.int("bucket-bytes", 1024)) / 1_048_576),
    LambdaCallback(name: "SeenExamples") { event, context in
        guard event == .trainBatchBegin, let input = context.input else { return }
        let ids = input.narrowed(dim: 1, start: 0, length: 1).scalars(as: Double.self).map { exampleIndex[$0.bitPattern] ?? -1 }
        seen.append("\(context.epoch) " + ids.map(String.init).joined(separator: ","))
        if rank == options.int("kill-rank", -1), context.epoch == 2, context.iteration == options.int("at-batch", 2) {
            kill(getpid(), SIGKILL)
        }
        if rank == options.int("hang-rank", -1), context.epoch == 2, context.iteration == options.int("at-batch", 2) {
            sleep(600)
        }
        if rank == options.int("throw-rank", -1), context.epoch == 2, context.iteration == options.int("at-batch", 2) {
            throw Stop(description: "rank \(rank) failed on purpose at epoch 2, batch \(context.iteration)")
        }
    },
]
if let path = options["auto-resume"] { callbacks.append(AutoResume(path: path)) }
if let path = options["checkpoints"] { callbacks.append(ModelCheckpoint(path: path + "/epoch-{epoch}.ckpt")) }
let stopAfter = options.int("stop-after-epoch", -1)
// After AutoResume wrote its file: every process stops dead, as a killed job does.
callbacks.append(LambdaCallback(name: "StopAfterEpoch", weight: 3000) { event, context in
    if event == .epochEnd, context.epoch == stopAfter { _exit(3) }
})

do {
    let batch = options.int("batch", 12)
    let fitted = try model.setup(loss: CrossEntropyLoss(), optimizer: Adam.self, metrics: [Accuracy()])
        .fit(.tensors(trainX, trainY, batchSize: batch, shuffle: true, generator: Generator(seed: 5)),
             epochs: EpochSpec(options.int("epochs", 4)),
             validData: .loader(DataLoader(TensorDataset(inputs: validX, targets: validY), batchSize: batch)), callbacks: callbacks, verbose: false)
    if let prefix = options["seen"] {
        try seen.joined(separator: "\n").write(toFile: "\(prefix)-rank\(rank).txt", atomically: true, encoding: .utf8)
    }
    if let prefix = options["weights"] {
        try model.stateDict().save(to: "\(prefix)-rank\(rank).safetensors")
    }
    if rank == 0 {
        for epoch in 1...fitted.epochsTrained {
            func value(_ set: String, _ metric: String) -> String {
                fitted.records.value(set: set, metric: metric, epoch: epoch).map { String(format: "%.12f", $0) } ?? "nan"
            }
            print("epoch=\(epoch) train_loss=\(value("train", "loss")) valid_loss=\(value("valid", "loss")) valid_acc=\(value("valid", "acc"))")
        }
    }
} catch {
    if let mpi = group as? MPIProcessGroup, mpi.size > 1 { mpi.abort("\(error)") }
    fputs("luz-distributed-check: \(error)\n", stderr)
    exit(1)
}
