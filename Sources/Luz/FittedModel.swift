import Foundation

/// How long a run took.
public struct Timings: Codable, Equatable, Sendable, CustomStringConvertible {
    /// Seconds for the whole of each `fit` call so far.
    public var fitSeconds: Double = 0
    /// Seconds per epoch: training and validation loops.
    public var trainSeconds: [Double] = []
    public var validSeconds: [Double] = []
    /// The number of training batches run.
    public var trainBatches = 0

    /// Mean seconds per training batch.
    public var secondsPerTrainBatch: Double {
        trainBatches > 0 ? trainSeconds.reduce(0, +) / Double(trainBatches) : 0
    }

    public var description: String {
        String(format: "fit %.3f s, train %.3f s (%.1f µs/batch), valid %.3f s", fitSeconds,
               trainSeconds.reduce(0, +), 1e6 * secondsPerTrainBatch, validSeconds.reduce(0, +))
    }
}

/// A trained model with its records: what `fit` returns (luz's fitted object).
///
/// Evaluate it, predict with it, look at its layers' activations, continue training it with
/// another ``fit(_:epochs:validData:callbacks:verbose:)``, save it and load it back.
public final class FittedModel: CustomStringConvertible {
    /// The trained model.
    public let model: Module
    /// The optimizers, with their state (continuing training keeps it).
    public internal(set) var optimizers: [(name: String, optimizer: Optimizer)]
    /// The per-epoch metrics (luz's `get_metrics`).
    public internal(set) var records = Records()
    /// How long training took.
    public internal(set) var timings = Timings()
    /// The setup the model was trained with.
    public let setup: TrainingSetup
    /// The number of epochs trained so far.
    public internal(set) var epochsTrained = 0
    /// Why the last run stopped before its last epoch (early stopping, interrupt), if it did.
    public internal(set) var stopReason: String?

    init(setup: TrainingSetup, model: Module, optimizers: [(String, Optimizer)]) {
        self.setup = setup
        self.model = model
        self.optimizers = optimizers.map { (name: $0.0, optimizer: $0.1) }
    }

    /// Trains for the epochs `context` names, on from those trained so far.
    func run(_ context: Context) throws {
        // An epoch without a batch trains nothing and records a NaN loss: say why instead.
        if let data = context.trainData, data.batchCount == 0, context.maxEpochs > 0 {
            if data.exampleCount == 0 { throw LuzError.invalidArgument("fit: the training data has no examples") }
            let size = data.batchSize.map { " of \($0)" } ?? ""
            throw LuzError.invalidArgument(
                "fit: \(data.exampleCount) training example\(data.exampleCount == 1 ? "" : "s") make no full batch\(size), and the last partial batch is dropped; use a smaller batch size or dropLast: false")
        }
        context.records = records
        context.timings = timings
        context.startEpoch = epochsTrained + 1
        context.minEpochs += epochsTrained
        context.maxEpochs += epochsTrained
        for case let parallel as DistributedDataParallel in context.callbacks { context.processGroup = parallel.group }
        for case let restoring as RestoresBeforeFit in context.callbacks {
            try restoring.restoreBeforeFit(context)
        }
        // A resumed run has trained the checkpoint's epochs, even when none is left to run
        // (killed after its last checkpoint, before `fitEnd` deleted it).
        epochsTrained = context.startEpoch - 1
        defer {
            epochsTrained = max(epochsTrained, context.lastTrainedEpoch)
            records = context.records
            timings = context.timings
            stopReason = context.stopReason
        }
        try Engine(context).fit()
    }

    /// A context for a run of `mode` on this model with its optimizers and setup.
    func makeContext(_ mode: RunMode, callbacks: [any Callback], verbose: Bool, metrics: [any Metric]? = nil) -> Context {
        Engine.makeContext(mode: mode, model: model, optimizers: mode == .predict ? [] : optimizers.map { ($0.name, $0.optimizer) },
                           setup: setup, verbose: verbose, callbacks: callbacks, metrics: metrics)
    }

    // MARK: - Continuing, evaluating, predicting

    /// Trains this model for more epochs, keeping its optimizer state and records
    /// (epochs are numbered on from the last one).
    @discardableResult
    public func fit(_ data: DataSource, epochs: EpochSpec = 10, validData: ValidationData? = nil,
                    callbacks: [any Callback] = [], verbose: Bool = true) throws -> FittedModel {
        let (train, valid) = try setup.resolveData(data, validData: validData, seed: nil)
        let context = makeContext(.fit, callbacks: callbacks, verbose: verbose)
        context.trainData = train
        context.validData = valid
        context.minEpochs = epochs.minimum
        context.maxEpochs = epochs.maximum
        try run(context)
        return self
    }

    /// Trains this model for more epochs on a data loader.
    @discardableResult
    public func fit<Source: Dataset>(_ loader: DataLoader<Source, Example>, epochs: EpochSpec = 10,
                                     validData: ValidationData? = nil, callbacks: [any Callback] = [],
                                     verbose: Bool = true) throws -> FittedModel {
        try fit(.loader(loader), epochs: epochs, validData: validData, callbacks: callbacks, verbose: verbose)
    }

    /// Trains this model for more epochs on a dataset, in shuffled batches of `batchSize`.
    @discardableResult
    public func fit<D: Dataset>(_ dataset: D, epochs: EpochSpec = 10, validData: ValidationData? = nil,
                                callbacks: [any Callback] = [], verbose: Bool = true, batchSize: Int = 32,
                                dropLast: Bool = true) throws -> FittedModel where D.Element == Example {
        try fit(.dataset(dataset, batchSize: batchSize, shuffle: true, dropLast: dropLast,
                         generator: Generator(seed: Generator.default.nextUInt64())),
                epochs: epochs, validData: validData, callbacks: callbacks, verbose: verbose)
    }

    /// The loss and metrics on `data` (the setup's validation metrics, or `metrics`), computed
    /// in evaluation mode without gradients; fires only the `valid…` events.
    public func evaluate(_ data: DataSource, metrics: [any Metric]? = nil, callbacks: [any Callback] = [],
                         verbose: Bool = false) throws -> Evaluation {
        let context = makeContext(.evaluate, callbacks: callbacks, verbose: verbose, metrics: metrics)
        let wasTraining = model.isTraining
        defer { model.train(wasTraining) }
        try Engine(context).evaluate(data)
        return Evaluation(values: context.records.rows(set: "valid", epoch: 1).map { ($0.metric, $0.value) },
                          displayNames: context.validMetrics.map(\.displayName))
    }

    /// Evaluates on a data loader, as it is configured.
    public func evaluate<Source: Dataset>(_ loader: DataLoader<Source, Example>, metrics: [any Metric]? = nil,
                                          callbacks: [any Callback] = [], verbose: Bool = false) throws -> Evaluation {
        try evaluate(.loader(loader), metrics: metrics, callbacks: callbacks, verbose: verbose)
    }

    /// Evaluates on a dataset, in batches of `batchSize`.
    public func evaluate<D: Dataset>(_ dataset: D, metrics: [any Metric]? = nil, callbacks: [any Callback] = [],
                                     verbose: Bool = false, batchSize: Int = 32) throws -> Evaluation
    where D.Element == Example {
        try evaluate(.dataset(dataset, batchSize: batchSize), metrics: metrics, callbacks: callbacks, verbose: verbose)
    }

    /// Evaluates on inputs and targets.
    public func evaluate(inputs: Tensor, targets: Tensor, metrics: [any Metric]? = nil) throws -> Evaluation {
        try evaluate(.tensors(inputs, targets, batchSize: 32), metrics: metrics)
    }

    /// The model's outputs for every batch of `data`, concatenated along the first dimension,
    /// computed in evaluation mode without gradients (luz's `predict`); stops with a message
    /// for a model whose output is not one tensor (see ``predictTree(_:callbacks:)``).
    public func predict(_ data: DataSource, callbacks: [any Callback] = []) throws -> Tensor {
        try predictTree(data, callbacks: callbacks).singleTensor("the output of \(model.typeName) (use predictTree for several outputs)")
    }

    /// The model's outputs for every batch of a data loader, concatenated.
    public func predict<Source: Dataset>(_ loader: DataLoader<Source, Example>, callbacks: [any Callback] = []) throws -> Tensor {
        try predict(.loader(loader), callbacks: callbacks)
    }

    /// The model's outputs for every example of a dataset, in batches of `batchSize`, concatenated.
    public func predict<D: Dataset>(_ dataset: D, batchSize: Int = 32, callbacks: [any Callback] = []) throws -> Tensor
    where D.Element == Example {
        try predict(.dataset(dataset, batchSize: batchSize), callbacks: callbacks)
    }

    /// The model's outputs for `inputs`, in batches of `batchSize`.
    public func predict(_ inputs: Tensor, batchSize: Int = 32) throws -> Tensor {
        try predict(.tensors(inputs, Tensor.zeros([inputs.shape.first ?? 0]), batchSize: batchSize))
    }

    /// The model's outputs for every batch of `data` with the structure the model returns
    /// (one tensor, several by position, or by name), each field's batches concatenated along
    /// the first dimension.
    public func predictTree(_ data: DataSource, callbacks: [any Callback] = []) throws -> TensorTree {
        let batches = try predictTreeBatches(data, callbacks: callbacks) { $0 }
        guard !batches.isEmpty else { return .tensor(Tensor.zeros([0])) }
        return TensorTree.concatenated(batches)
    }

    /// The model's outputs for every example of a dataset, in batches of `batchSize`, with the
    /// structure the model returns.
    public func predictTree<D: Dataset>(_ dataset: D, batchSize: Int = 32, callbacks: [any Callback] = []) throws -> TensorTree
    where D.Element == Example {
        try predictTree(.dataset(dataset, batchSize: batchSize), callbacks: callbacks)
    }

    /// `transform` applied to the model's output for every batch, in order: to post-process
    /// each batch (`argmax`, probabilities, …).
    public func predictBatches<Output>(_ data: DataSource, callbacks: [any Callback] = [],
                                       _ transform: (Tensor) throws -> Output) throws -> [Output] {
        try predictTreeBatches(data, callbacks: callbacks) { tree in
            try transform(tree.singleTensor("the output of \(model.typeName)"))
        }
    }

    /// `transform` applied to the model's structured output for every batch, in order.
    public func predictTreeBatches<Output>(_ data: DataSource, callbacks: [any Callback] = [],
                                       _ transform: (TensorTree) throws -> Output) throws -> [Output] {
        let context = makeContext(.predict, callbacks: callbacks, verbose: false)
        let wasTraining = model.isTraining
        model.eval()
        defer { model.train(wasTraining) }
        return try Engine(context).predict(data, transform)
    }

    /// The activation of every layer (or of the named ones) for `inputs`, by dotted layer name,
    /// in evaluation mode: each layer's output followed by the activation functions applied to
    /// it outside any module (`tanh(layer1(x))` gives `layer1` after the tanh; see
    /// ``Module/activations(for:of:functions:)``, whose `functions` say which operations count).
    public func activations(for inputs: Tensor, layers: Set<String>? = nil,
                            functions: Set<String> = Module.activationFunctions) -> StateDict {
        let wasTraining = model.isTraining
        model.eval()
        defer { model.train(wasTraining) }
        return model.activations(for: inputs, of: layers, functions: functions)
    }

    public var description: String {
        var lines = ["A fitted \(model.typeName): \(epochsTrained) epoch\(epochsTrained == 1 ? "" : "s"), \(timings)"]
        for set in records.sets {
            let values = records.rows(set: set, epoch: records.lastEpoch)
            let text = values.map { "\(ProgressCallback.displayName(for: $0.metric)): \(String(format: "%.4f", $0.value))" }
            lines.append("\(set == "train" ? "Train" : "Valid") metrics: " + text.joined(separator: " - "))
        }
        if let stopReason { lines.append("Stopped: \(stopReason)") }
        lines.append(model.description)
        return lines.joined(separator: "\n")
    }
}

/// The result of ``FittedModel/evaluate(_:metrics:callbacks:verbose:)``: metric values by name.
public struct Evaluation: CustomStringConvertible {
    /// `(metric name, value)` pairs, the loss first.
    public let values: [(name: String, value: Double)]
    let displayNames: [String]

    /// The value of a metric by name (`"loss"`, `"acc"`).
    public subscript(name: String) -> Double? { values.first { $0.name == name }?.value }

    public var description: String {
        zip(displayNames, values).map { "\($0): \(String(format: "%.4f", $1.value))" }.joined(separator: " - ")
    }
}

extension Array where Element == Tensor {
    /// The tensors concatenated along the first dimension (an empty float tensor for none).
    func concatenated() -> Tensor { isEmpty ? Tensor.zeros([0]) : Tensor.cat(self, dim: 0) }
}
