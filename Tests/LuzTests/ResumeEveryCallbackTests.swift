import Foundation
@testable import Luz
import Testing

// A fit killed and resumed with AutoResume ends with the weights of an uninterrupted fit, bit
// for bit, under every shipped callback and scheduler. The kill is an error thrown from a
// callback (nothing after it runs, as with SIGKILL; RandomKillTests kills real processes), and
// the resumed fit is built from scratch: new model, new callbacks, new generators. The list of
// cases is checked against the sources: a new callback or scheduler fails `everyCallbackAndSchedulerHasACase`
// until it has a case here.

let resumeEpochs = 8

/// One setup to kill and resume: the callbacks of the fit (made afresh for each fit, with
/// files under `folder`) and the shipped types it exercises.
struct ResumeCase: CustomTestStringConvertible, Sendable {
    let name: String
    let covers: [String]
    /// Resumes with ResumeFromCheckpoint (reading AutoResume's file) instead of AutoResume.
    var resumesFromCheckpoint = false
    /// The fit's epochs: a range whose minimum keeps early stopping from ending the run before the kill.
    var epochs: EpochSpec = EpochSpec(resumeEpochs)
    /// The optimizer of the fit, with its defaults and the fit's learning rate.
    var optimizer: Optimizer.Type = Adam.self
    /// The model: the dropout MLP of ``resumeFit(_:folder:extra:)``, or a recurrent one.
    var model: ResumeModel = .multilayerPerceptron
    /// The training data: the blobs as tensors, or augmented.
    var data: ResumeData = .tensors
    /// Trains with ``MixupLoss`` (for Mixup and CutMix) instead of the plain cross-entropy.
    var mixes = false
    let make: @Sendable (_ folder: String) -> [any Callback]

    var testDescription: String { name }

    static func scheduler(_ name: String, callOn: Event = .epochEnd,
                          _ make: @escaping @Sendable (Optimizer) -> LRScheduler) -> ResumeCase {
        ResumeCase(name: name, covers: [name, "LRSchedulerCallback"]) { _ in [LRSchedulerCallback(callOn: callOn, make)] }
    }
}

/// The model a case fits.
enum ResumeModel: Sendable {
    /// Linear layers with a dropout on the default generator and one on its own.
    case multilayerPerceptron
    /// A two-layer LSTM whose dropout between the layers draws from its own generator.
    case recurrent
    /// Channel dropouts over feature maps, one on its own generator, one on the default.
    case channelDropout
}

/// Reads the 16 hidden features of each example as 4 channels of 2 × 2 maps, then as 8
/// channels of length 2, with a channel dropout at each reading.
final class ChannelDropoutClassifier: Module {
    let first = Linear(2, 16)
    let maps = Dropout2d(probability: 0.3, generator: Generator(seed: 14))
    let sequences = Dropout1d(probability: 0.2)
    let head = Linear(16, 2)

    override func forward(_ input: Tensor) -> Tensor {
        let n = input.shape[0]
        let hidden = maps(first(input).relu().reshaped([n, 4, 2, 2]))
        return head(sequences(hidden.reshaped([n, 8, 2])).reshaped([n, 16]))
    }
}

/// Reads each 2-feature example as a sequence of two steps of one feature, through a
/// two-layer LSTM with dropout between its layers, and classifies its last output.
final class RecurrentClassifier: Module {
    let lstm = LSTM(inputSize: 1, hiddenSize: 8, layerCount: 2, batchFirst: true, dropout: 0.3, generator: Generator(seed: 13))
    let head = Linear(8, 2)

    override func forward(_ input: Tensor) -> Tensor {
        let sequence = lstm(input.reshaped([input.shape[0], 2, 1]))
        return head(sequence.selected(dim: 1, index: 1))
    }
}

/// The data a case fits.
enum ResumeData: Sendable {
    /// The blobs' tensors, shuffled.
    case tensors
    /// Each 2-feature example drawn as a 1 × 4 × 4 image (each feature fills two columns) and
    /// augmented: random crops, flips, erasing and noise, in training and in the split-off
    /// validation part alike (so both loaders' generators must resume).
    case augmentedImages
}

/// The augmentation of ``ResumeData/augmentedImages``.
let resumeAugmentation = Transform<Tensor, Tensor>.composed([
    Transform { features in
        let values = features.scalars(as: Float.self)
        let (a, b) = (values[0], values[1])
        return Tensor((0..<16).map { $0 % 4 < 2 ? a : b }, shape: [1, 4, 4])
    },
    .randomCrop(size: 4, padding: 1, border: .reflect),
    .randomHorizontalFlip(),
    .randomErasing(probability: 0.3, scale: 0.05...0.2),
    Transform(random: { image, generator in
        image + Tensor.randn(image.shape, generator: generator) * 0.1
    }),
])

/// Where the kill happens.
enum KillPoint: String, CaseIterable, Sendable, Codable {
    /// At the start of epoch 5, after the checkpoint of epoch 4.
    case epochFive
    /// After the last checkpoint, before `fitEnd` (and AutoResume's deletion of the file).
    case beforeFitEnd
}

let resumeCases: [ResumeCase] = [
    ResumeCase(name: "default callbacks only", covers: ["AutoResume", "TimingsCallback", "TrainValidCallback",
                                                        "MetricsCallback", "ProgressCallback", "InterruptCallback"]) { _ in [] },
    ResumeCase(name: "ResumeFromCheckpoint", covers: ["ResumeFromCheckpoint"], resumesFromCheckpoint: true) { _ in [] },
    // A large minDelta makes it stop at epoch 6, the first it may (the minimum), with the best weights.
    ResumeCase(name: "EarlyStopping", covers: ["EarlyStopping"], epochs: EpochSpec(6...resumeEpochs)) { _ in
        [EarlyStopping(monitor: "valid_loss", minDelta: 0.05, patience: 1, restoreBestWeights: true)]
    },
    // The largest validation loss is an early epoch's: the best weights predate the kill.
    ResumeCase(name: "KeepBestModel", covers: ["KeepBestModel"]) { _ in [KeepBestModel(monitor: "valid_loss", mode: .max)] },
    ResumeCase(name: "ModelCheckpoint", covers: ["ModelCheckpoint"]) { folder in
        [ModelCheckpoint(path: folder + "/best-{epoch}.safetensors", monitor: "valid_loss", saveBestOnly: true)]
    },
    ResumeCase(name: "loggers", covers: ["CSVLogger", "MetricsLogger"]) { folder in
        [CSVLogger(path: folder + "/log.csv"), MetricsLogger(path: folder + "/log.jsonl")]
    },
    ResumeCase(name: "TensorBoardLogger", covers: ["TensorBoardLogger"]) { folder in
        [TensorBoardLogger(logDirectory: folder + "/tensorboard", logsBatches: true, histogramEvery: 2)]
    },
    ResumeCase(name: "ExponentialMovingAverage", covers: ["ExponentialMovingAverage"]) { _ in
        [ExponentialMovingAverage(decay: 0.9, warmup: true)]
    },
    ResumeCase(name: "ModelSummary", covers: ["ModelSummary"]) { _ in [ModelSummary(prints: false)] },
    // Averaging from epoch 3 (before the kill at 5) with the rate annealing over 3 epochs.
    ResumeCase(name: "StochasticWeightAveraging", covers: ["StochasticWeightAveraging"]) { _ in
        [StochasticWeightAveraging(startEpoch: 3, learningRate: 0.005, annealEpochs: 3)]
    },
    .scheduler("SWALR") { SWALR(optimizer: $0, swaLearningRate: 0.005, annealEpochs: 4) },
    ResumeCase(name: "TerminateOnNaN", covers: ["TerminateOnNaN"]) { _ in [TerminateOnNaN()] },
    ResumeCase(name: "GradientAccumulation", covers: ["GradientAccumulation"]) { _ in [GradientAccumulation(steps: 3)] },
    ResumeCase(name: "GradientClip", covers: ["GradientClip"]) { _ in
        [GradientClip(maximumNorm: 0.5), GradientClip(maximumValue: 0.05)]
    },
    ResumeCase(name: "LambdaCallback", covers: ["LambdaCallback"]) { _ in [LambdaCallback { _, _ in }] },
    // Data parallel over one process: the sharded data (sharing the loader's generator) on the
    // path; several processes resume in LuzDistributedTests, under mpirun.
    ResumeCase(name: "DistributedDataParallel", covers: ["DistributedDataParallel"]) { _ in
        [DistributedDataParallel(SingleProcessGroup())]
    },
    .scheduler("StepLR") { StepLR(optimizer: $0, stepSize: 3, gamma: 0.5) },
    .scheduler("MultiStepLR") { MultiStepLR(optimizer: $0, milestones: [2, 6], gamma: 0.5) },
    .scheduler("ExponentialLR") { ExponentialLR(optimizer: $0, gamma: 0.8) },
    // T_max 3: the kill and the end both lie past it, in the restart.
    .scheduler("CosineAnnealingLR") { CosineAnnealingLR(optimizer: $0, maximumEpochs: 3, minimumLearningRate: 0.001) },
    .scheduler("LambdaLR") { LambdaLR(optimizer: $0) { pow(0.7, Double($0)) } },
    .scheduler("OneCycleLR", callOn: .trainBatchEnd) {
        OneCycleLR(optimizer: $0, maximumLearningRate: 0.05, totalSteps: resumeEpochs * resumeBatchesPerEpoch)
    },
    .scheduler("LinearLR") { LinearLR(optimizer: $0, startFactor: 0.2, totalSteps: 6) },
    .scheduler("ConstantLR") { ConstantLR(optimizer: $0, factor: 0.3, totalSteps: 6) },
    .scheduler("PolynomialLR") { PolynomialLR(optimizer: $0, totalSteps: 10, power: 2) },
    // Periods of 2, 4, 8 steps: the kill falls in the second, the end in the third.
    .scheduler("CosineAnnealingWarmRestarts", callOn: .trainBatchEnd) {
        CosineAnnealingWarmRestarts(optimizer: $0, firstPeriod: 2, periodMultiplier: 2, minimumLearningRate: 0.001)
    },
    // Cycles of 9 batches, the momentum (Adam's β₁) cycling too.
    .scheduler("CyclicLR", callOn: .trainBatchEnd) {
        CyclicLR(optimizer: $0, baseLearningRate: 0.001, maximumLearningRate: 0.05, stepSizeUp: 5, stepSizeDown: 4,
                 mode: .triangular2)
    },
    // Warm-up, then a decay that starts at the milestone (before the kill) from its own epoch 0.
    .scheduler("SequentialLR") { optimizer in
        SequentialLR(optimizer: optimizer, schedulers: [
            LinearLR(optimizer: optimizer, startFactor: 0.1, totalSteps: 3),
            CosineAnnealingWarmRestarts(optimizer: optimizer, firstPeriod: 3),
        ], milestones: [3])
    },
    .scheduler("ChainedScheduler") { optimizer in
        ChainedScheduler(schedulers: [ConstantLR(optimizer: optimizer, factor: 0.5, totalSteps: 6),
                                      ExponentialLR(optimizer: optimizer, gamma: 0.8)])
    },
    // Optimizers with per-parameter state beyond SGD's and Adam's (their numbers too: NAdam's
    // mu_product, ASGD's eta and mu), each with a scheduler that moves its rate.
    ResumeCase(name: "NAdam", covers: ["NAdam"], optimizer: NAdam.self) { _ in [] },
    ResumeCase(name: "RAdam", covers: ["RAdam"], optimizer: RAdam.self) { _ in [] },
    ResumeCase(name: "Adamax", covers: ["Adamax"], optimizer: Adamax.self) { _ in [] },
    ResumeCase(name: "Adadelta", covers: ["Adadelta"], optimizer: Adadelta.self) { _ in [] },
    ResumeCase(name: "ASGD", covers: ["ASGD"], optimizer: ASGD.self) { _ in
        [LRSchedulerCallback { ExponentialLR(optimizer: $0, gamma: 0.9) }]
    },
    ResumeCase(name: "Rprop", covers: ["Rprop"], optimizer: Rprop.self) { _ in [] },
    // LBFGS's history, last direction and counters, and a loop that re-evaluates each batch
    // (drawing dropout masks for every evaluation).
    ResumeCase(name: "LBFGS", covers: ["LBFGS"], optimizer: LBFGS.self) { _ in [] },
    // The optimizers on the elementwise base that the cases above do not use.
    ResumeCase(name: "SGD", covers: ["SGD"], optimizer: SGD.self) { _ in [] },
    ResumeCase(name: "AdamW", covers: ["AdamW"], optimizer: AdamW.self) { _ in [] },
    ResumeCase(name: "RMSprop", covers: ["RMSprop"], optimizer: RMSprop.self) { _ in [] },
    ResumeCase(name: "Adagrad", covers: ["Adagrad"], optimizer: Adagrad.self) { _ in [] },
    // A recurrent layer's dropout generator.
    ResumeCase(name: "LSTM dropout", covers: ["LSTM"], model: .recurrent) { _ in [] },
    ResumeCase(name: "channel dropout", covers: ["Dropout1d", "Dropout2d"], model: .channelDropout) { _ in [] },
    ResumeCase(name: "ReduceLROnPlateau", covers: ["ReduceLROnPlateau", "LRSchedulerCallback"]) { _ in
        [LRSchedulerCallback(monitor: "valid_loss") { ReduceLROnPlateau(optimizer: $0, factor: 0.5, patience: 0, threshold: 0.2) }]
    },
    // Per-element augmentation seeded by the loaders' generators (training and validation).
    ResumeCase(name: "augmented data", covers: [], data: .augmentedImages) { _ in [] },
    // Mixup drawing from the default generator; CutMix from its own (saved as its state), on
    // augmented images.
    ResumeCase(name: "Mixup", covers: ["Mixup"], mixes: true) { _ in [Mixup(alpha: 0.4)] },
    ResumeCase(name: "CutMix", covers: ["CutMix"], data: .augmentedImages, mixes: true) { _ in
        [CutMix(generator: Generator(seed: 5))]
    },
]

let resumeBatchesPerEpoch = 6   // 96 training examples in batches of 16

/// A fit of the case's callbacks, plus `extra`; the model has a dropout drawing from the
/// default generator and one drawing from its own.
func resumeFit(_ scenario: ResumeCase, folder: String, extra: [any Callback]) throws -> FittedModel {
    let (x, y) = blobs(count: 128, seed: 81)
    let images = scenario.data == .augmentedImages
    let setup = TrainingSetup(
        model: { _ in
            switch scenario.model {
            case .multilayerPerceptron:
                Sequential {
                    Flatten(); Linear(images ? 16 : 2, 16); ReLU(); Dropout(probability: 0.2)
                    Linear(16, 16); ReLU(); Dropout(probability: 0.3, generator: Generator(seed: 12))
                    Linear(16, 2)
                }
            case .recurrent:
                RecurrentClassifier()
            case .channelDropout:
                ChannelDropoutClassifier()
            }
        },
        loss: scenario.mixes ? LossFunction(MixupLoss(CrossEntropyLoss())) : LossFunction(CrossEntropyLoss()),
        optimizer: OptimizerFactory(scenario.optimizer), metrics: [Accuracy()])
    let data: DataSource = switch scenario.data {
    case .tensors: .tensors(x, y, batchSize: 16, shuffle: true)
    case .augmentedImages:
        .dataset(TensorDataset(inputs: x, targets: y).transformed(resumeAugmentation), batchSize: 16, shuffle: true)
    }
    return try setup.learningRate(0.02)
        .fit(data, epochs: scenario.epochs, validData: 0.25,
             callbacks: scenario.make(folder) + extra, verbose: false, seed: 77)
}

struct Killed: Error {}

/// Throws at the kill point; weight 1500 runs it after every callback but AutoResume at `fitEnd`.
func killer(at point: KillPoint) -> LambdaCallback {
    LambdaCallback(name: "killer", weight: 1500) { event, context in
        switch (point, event) {
        case (.epochFive, .epochBegin) where context.epoch == 5: throw Killed()
        case (.beforeFitEnd, .fitEnd): throw Killed()
        default: break
        }
    }
}

func bitPatterns(_ model: Module) -> [String: [UInt32]] {
    var result: [String: [UInt32]] = [:]
    for (key, tensor) in model.stateDict() { result[key] = tensor.floats.map(\.bitPattern) }
    return result
}

/// Runs one case in a child process (fits use the process-wide default generator, which tests
/// running in parallel would draw from): an uninterrupted fit, a killed one, its resumption.
/// Prints what differs from the uninterrupted fit to standard error (nothing when the resumed
/// fit matches bit for bit); the exit status is 0 unless the program stopped.
func resumeScenario(name: String, point: KillPoint) -> Int32 {
    guard let scenario = resumeCases.first(where: { $0.name == name }) else { return 10 }
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("luz-resume-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: root) }
    func fail(_ message: String) -> Int32 {
        FileHandle.standardError.write(Data("resume \(name) killed at \(point): \(message)\n".utf8))
        return 0
    }
    do {
        for folder in ["reference", "run"] {
            try FileManager.default.createDirectory(atPath: root + "/" + folder, withIntermediateDirectories: true)
        }
        let reference = try resumeFit(scenario, folder: root + "/reference", extra: [])
        let checkpoint = root + "/run/auto.ckpt"
        do {
            _ = try resumeFit(scenario, folder: root + "/run", extra: [AutoResume(path: checkpoint), killer(at: point)])
            return fail("the killer did not fire")
        } catch let error as CallbackError where error.underlying is Killed {}
        guard FileManager.default.fileExists(atPath: checkpoint) else { return fail("no checkpoint before the kill") }
        let resume: any Callback = scenario.resumesFromCheckpoint ? ResumeFromCheckpoint(path: checkpoint) : AutoResume(path: checkpoint)
        let resumed = try resumeFit(scenario, folder: root + "/run", extra: [resume])
        var problems: [String] = []
        if resumed.epochsTrained != reference.epochsTrained {
            problems.append("epochsTrained \(resumed.epochsTrained), uninterrupted \(reference.epochsTrained)")
        }
        if resumed.stopReason != reference.stopReason {
            problems.append("stopReason \(resumed.stopReason ?? "nil"), uninterrupted \(reference.stopReason ?? "nil")")
        }
        if resumed.records != reference.records {
            let first = zip(resumed.records.rows, reference.records.rows).first { $0 != $1 }
            problems.append("records differ (first: \(first.map { "\($0) vs \($1)" } ?? "count"))")
        }
        let expected = bitPatterns(reference.model), found = bitPatterns(resumed.model)
        for key in expected.keys.sorted() where found[key] != expected[key] {
            problems.append("\(key) differs from the uninterrupted run")
        }
        return problems.isEmpty ? 0 : fail(problems.joined(separator: "; "))
    } catch {
        return fail("\(error)")
    }
}

@Suite("Kill and resume under every callback and scheduler")
struct ResumeEveryCallbackTests {
    @Test(arguments: resumeCases.map(\.name), KillPoint.allCases)
    func resumedFitEndsWithTheUninterruptedWeights(_ name: String, killedAt point: KillPoint) async throws {
        let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) { [name, point] in
            exit(resumeScenario(name: name, point: point))
        }
        let errors = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(!errors.contains("resume "), "\(errors)")
    }

    /// Every callback and scheduler class in the sources has a case above.
    @Test func everyCallbackAndSchedulerHasACase() throws {
        let sources = packageRoot.appendingPathComponent("Sources")
        var shipped = Set<String>()
        for folder in ["Luz", "LuzOptim"] {
            let directory = sources.appendingPathComponent(folder)
            for file in try FileManager.default.contentsOfDirectory(atPath: directory.path) where file.hasSuffix(".swift") {
                let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
                shipped.formUnion(shippedTypes(in: text, schedulersFile: file == "LRScheduler.swift"))
            }
        }
        #expect(shipped.contains("EarlyStopping") && shipped.contains("OneCycleLR"), "the source scan found \(shipped)")
        let covered = Set(resumeCases.flatMap(\.covers))
        #expect(shipped.subtracting(covered).isEmpty, "no kill-and-resume case for \(shipped.subtracting(covered).sorted())")
    }
}

/// The classes declared in `text` that conform to `Callback` (directly or through
/// `RestoresBeforeFit` or `PrimaryProcessCallback`), and in the schedulers' file every class but the base.
func shippedTypes(in text: String, schedulersFile: Bool) -> Set<String> {
    var found = Set<String>()
    for line in text.split(separator: "\n") {
        let words = line.split(whereSeparator: { $0 == " " || $0 == ":" || $0 == "," || $0 == "{" })
        guard let index = words.firstIndex(of: "class"), index + 1 < words.count,
              !line.trimmingCharacters(in: .whitespaces).hasPrefix("//") else { continue }
        let name = String(words[index + 1])
        let conformances = words[(index + 2)...]
        if conformances.contains("Callback") || conformances.contains("RestoresBeforeFit")
            || conformances.contains("PrimaryProcessCallback")
            || conformances.contains("LRScheduler") || (schedulersFile && name != "LRScheduler") {
            found.insert(name)
        }
    }
    return found
}
