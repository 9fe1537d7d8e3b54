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

    /// The default callbacks every run has, then the user's, sorted by weight (stable).
    static func orderedCallbacks(_ extra: [any Callback], context: Context) -> [any Callback] {
        let defaults: [any Callback] = [TimingsCallback(), TrainValidCallback(), MetricsCallback(),
                                        ProgressCallback(), InterruptCallback()]
        return (defaults + extra).enumerated().sorted {
            $0.element.weight != $1.element.weight ? $0.element.weight < $1.element.weight : $0.offset < $1.offset
        }.map(\.element)
    }

    /// Runs the training loop for the epochs the context names.
    func run(_ context: Context, callbacks: [any Callback]) throws {
        // An epoch without a batch trains nothing and records a NaN loss: say why instead.
        if let data = context.trainData, data.batchCount == 0, context.maxEpochs > 0 {
            if data.exampleCount == 0 { throw LuzError.invalidArgument("fit: the training data has no examples") }
            let size = data.batchSize.map { " of \($0)" } ?? ""
            throw LuzError.invalidArgument(
                "fit: \(data.exampleCount) training example\(data.exampleCount == 1 ? "" : "s") make no full batch\(size), and the last partial batch is dropped; use a smaller batch size or dropLast: false")
        }
        context.callbacks = FittedModel.orderedCallbacks(callbacks, context: context)
        context.records = records
        context.timings = timings
        context.startEpoch = epochsTrained + 1
        context.minEpochs += epochsTrained
        context.maxEpochs += epochsTrained
        context.trainMetrics = [LossAverage()] + setup.metrics.map { $0.fresh() }
        context.validMetrics = [LossAverage()] + (setup.validMetrics ?? setup.metrics).map { $0.fresh() }
        for case let restoring as RestoresBeforeFit in context.callbacks {
            try restoring.restoreBeforeFit(context)
        }
        // A resumed run has trained the checkpoint's epochs, even when none is left to run
        // (killed after its last checkpoint, before `fitEnd` deleted it).
        epochsTrained = context.startEpoch - 1
        let interrupt = context.callbacks.lazy.compactMap { $0 as? InterruptCallback }.first
        defer {
            interrupt?.finish()
            records = context.records
            timings = context.timings
            stopReason = context.stopReason
        }
        try context.fire(.fitBegin)
        var epoch = context.startEpoch
        // Resumed after the epoch whose end asked to stop: finish the stop, train no further.
        if context.stopRequested {
            try context.fire(.earlyStopping)
            epoch = context.maxEpochs + 1
        }
        while epoch <= context.maxEpochs {
            context.epoch = epoch
            try context.fire(.epochBegin)
            try trainEpoch(context)
            if context.validData != nil && !context.interrupted {
                try validationLoop(context, data: context.validData!)
            }
            epochsTrained = epoch
            if context.interrupted {
                context.requestStop(reason: "interrupted at epoch \(epoch) of \(context.maxEpochs)")
                try context.fire(.interrupt)
                break
            }
            try context.fire(.epochEnd)
            if context.stopRequested {
                if epoch >= context.minEpochs {
                    try context.fire(.earlyStopping)
                    break
                }
                context.stopReason = nil
            }
            epoch += 1
        }
        try context.fire(.fitEnd)
    }

    private func trainEpoch(_ context: Context) throws {
        guard let data = context.trainData else { return }
        context.isTraining = true
        context.batchCount = data.batchCount
        context.iteration = 0
        try context.fire(.trainBegin)
        let iterator = data.makeIterator()
        while let batch = iterator.next() {
            context.iteration += 1
            context.batch = batch
            context.mixedTargets = nil
            context.prediction = nil
            context.lossForBackward = nil
            context.stepsOptimizer = true
            context.runsBackward = true
            try context.fire(.trainBatchBegin)
            if let custom = context.model as? CustomTrainingStep {
                try custom.trainingStep(context)
            } else {
                // The batch as the callbacks left it (Mixup replaces the input).
                try defaultTrainingStep(context, batch: context.batch ?? batch)
            }
            try context.fire(.trainBatchEnd)
            if context.interruptRequested { context.interrupted = true; break }
        }
        context.mixedTargets = nil
        try context.fire(.trainEnd)
    }

    private func defaultTrainingStep(_ context: Context, batch: Example) throws {
        let prediction = context.model(batch.input)
        context.prediction = prediction
        try context.fire(.trainBatchAfterPrediction)
        let loss = try computeLoss(context, prediction: prediction, target: batch.target)
        context.lossForBackward = loss
        context.loss = ["opt": loss.item]
        try context.fire(.trainBatchAfterLoss)
        try context.fire(.trainBatchBeforeBackward)
        if context.runsBackward, let loss = context.lossForBackward {
            loss.backward()
        }
        try context.fire(.trainBatchBeforeStep)
        if context.stepsOptimizer {
            for (_, optimizer) in context.optimizers {
                if optimizer.reevaluatesLoss {
                    try stepReevaluating(optimizer, context, batch: batch, firstLoss: loss.item)
                } else {
                    withNoGrad { optimizer.step() }
                }
                optimizer.zeroGrad()
            }
        }
        try context.fire(.trainBatchAfterStep)
    }

    /// Steps an optimizer that evaluates the loss several times (``LBFGS``) with a closure over
    /// the batch, as luz passes one to `opt$step`. Its first evaluation is the one the batch's
    /// events saw (the gradients are there, after any callback changed them before the step);
    /// every later one clears this optimizer's gradients, recomputes the prediction and the
    /// loss on the same batch and runs backward. The events fire once per batch, for the first.
    private func stepReevaluating(_ optimizer: Optimizer, _ context: Context, batch: Example, firstLoss: Double) throws {
        var isFirst = true
        try optimizer.step {
            if isFirst {
                isFirst = false
                return firstLoss
            }
            optimizer.zeroGrad()
            let loss = try computeLoss(context, prediction: context.model(batch.input), target: batch.target)
            loss.backward()
            return loss.item
        }
    }

    func computeLoss(_ context: Context, prediction: Tensor, target: Tensor) throws -> Tensor {
        if let mixed = context.mixedTargets {
            guard let computeMixed = context.lossFunction?.computeMixed else {
                throw LuzError.invalidArgument(MixedTargets.missingLossMessage)
            }
            return computeMixed(prediction, mixed)
        }
        if let lossFunction = context.lossFunction { return lossFunction(prediction, target) }
        if let provider = context.model as? LossProviding { return provider.loss(prediction: prediction, target: target) }
        throw LuzError.invalidArgument("setup has no loss, and the model \(context.model.typeName) does not conform to LossProviding")
    }

    func validationLoop(_ context: Context, data: DataSource) throws {
        context.isTraining = false
        context.batchCount = data.batchCount
        context.iteration = 0
        try context.fire(.validBegin)
        try withNoGrad {
            let iterator = data.makeIterator()
            while let batch = iterator.next() {
                context.iteration += 1
                context.batch = batch
                try context.fire(.validBatchBegin)
                let prediction = context.model(batch.input)
                context.prediction = prediction
                try context.fire(.validBatchAfterPrediction)
                let loss = try computeLoss(context, prediction: prediction, target: batch.target)
                context.lossForBackward = nil
                context.loss = ["opt": loss.item]
                try context.fire(.validBatchAfterLoss)
                try context.fire(.validBatchEnd)
                if context.interruptRequested { context.interrupted = true; break }
            }
        }
        try context.fire(.validEnd)
    }

    // MARK: - Continuing, evaluating, predicting

    /// Trains this model for more epochs, keeping its optimizer state and records
    /// (epochs are numbered on from the last one).
    @discardableResult
    public func fit(_ data: DataSource, epochs: EpochSpec = 10, validData: ValidationData? = nil,
                    callbacks: [any Callback] = [], verbose: Bool = true) throws -> FittedModel {
        let (train, valid) = try setup.resolveData(data, validData: validData, seed: nil)
        let context = Context(model: model, optimizers: optimizers.map { ($0.name, $0.optimizer) },
                              lossFunction: setup.loss, hyperparameters: setup.hyperparameters,
                              optimizerHyperparameters: setup.optimizerHyperparameters, verbose: verbose)
        context.trainData = train
        context.validData = valid
        context.minEpochs = epochs.minimum
        context.maxEpochs = epochs.maximum
        try run(context, callbacks: callbacks)
        return self
    }

    /// The loss and metrics on `data` (the setup's validation metrics, or `metrics`), computed
    /// in evaluation mode without gradients; fires only the `valid…` events.
    public func evaluate(_ data: DataSource, metrics: [any Metric]? = nil, callbacks: [any Callback] = [],
                         verbose: Bool = false) throws -> Evaluation {
        let context = Context(model: model, optimizers: optimizers.map { ($0.name, $0.optimizer) },
                              lossFunction: setup.loss, hyperparameters: setup.hyperparameters,
                              optimizerHyperparameters: setup.optimizerHyperparameters, verbose: verbose)
        context.callbacks = FittedModel.orderedCallbacks(callbacks, context: context)
            .filter { !($0 is ProgressCallback) || verbose }
        context.validMetrics = [LossAverage()] + (metrics ?? setup.validMetrics ?? setup.metrics).map { $0.fresh() }
        context.epoch = 1
        let wasTraining = model.isTraining
        defer { model.train(wasTraining) }
        try validationLoop(context, data: data)
        return Evaluation(values: context.records.rows(set: "valid", epoch: 1).map { ($0.metric, $0.value) },
                          displayNames: context.validMetrics.map(\.displayName))
    }

    /// Evaluates on inputs and targets.
    public func evaluate(inputs: Tensor, targets: Tensor, metrics: [any Metric]? = nil) throws -> Evaluation {
        try evaluate(.tensors(inputs, targets, batchSize: 32), metrics: metrics)
    }

    /// The model's outputs for every batch of `data`, concatenated along the first dimension,
    /// computed in evaluation mode without gradients (luz's `predict`).
    public func predict(_ data: DataSource, callbacks: [any Callback] = []) throws -> Tensor {
        try predictBatches(data, callbacks: callbacks) { $0 }.reduce(into: [Tensor]()) { $0.append($1) }.concatenated()
    }

    /// The model's outputs for `inputs`, in batches of `batchSize`.
    public func predict(_ inputs: Tensor, batchSize: Int = 32) throws -> Tensor {
        try predict(.tensors(inputs, Tensor.zeros([inputs.shape.first ?? 0]), batchSize: batchSize))
    }

    /// `transform` applied to the model's output for every batch, in order: for models whose
    /// output is not one tensor, or to post-process each batch (`argmax`, probabilities, …).
    public func predictBatches<Output>(_ data: DataSource, callbacks: [any Callback] = [],
                                       _ transform: (Tensor) throws -> Output) throws -> [Output] {
        let context = Context(model: model, optimizers: [], lossFunction: setup.loss,
                              hyperparameters: setup.hyperparameters,
                              optimizerHyperparameters: setup.optimizerHyperparameters, verbose: false)
        context.callbacks = FittedModel.orderedCallbacks(callbacks, context: context)
            .filter { !($0 is ProgressCallback) && !($0 is MetricsCallback) }
        let wasTraining = model.isTraining
        model.eval()
        defer { model.train(wasTraining) }
        var outputs: [Output] = []
        try context.fire(.predictBegin)
        try withNoGrad {
            let iterator = data.makeIterator()
            while let batch = iterator.next() {
                context.iteration += 1
                context.batch = batch
                try context.fire(.predictBatchBegin)
                let prediction = model(batch.input)
                context.prediction = prediction
                outputs.append(try transform(prediction))
                try context.fire(.predictBatchEnd)
            }
        }
        try context.fire(.predictEnd)
        return outputs
    }

    /// The output of every layer (or of the named ones) for `inputs`, by dotted layer name, in
    /// evaluation mode without gradients: what each layer of the trained model computes.
    public func activations(for inputs: Tensor, layers: Set<String>? = nil) -> StateDict {
        let wasTraining = model.isTraining
        model.eval()
        defer { model.train(wasTraining) }
        return withNoGrad { model.activations(for: inputs, of: layers) }
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
