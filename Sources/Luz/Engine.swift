import Foundation

/// What a run does: train (with validation after each epoch), evaluate, or predict.
public enum RunMode: String, Sendable {
    /// `fit`: training epochs, each followed by validation when there is validation data.
    case fit
    /// `evaluate`: the validation loop alone, on the data given.
    case evaluate
    /// `predict`: the model's outputs, without losses or metrics.
    case predict

    /// The callbacks every run of this mode has before the user's (luz's `default_callbacks()`,
    /// `default_evaluate_callbacks()` and `default_predict_callbacks()`):
    ///
    /// | mode | default callbacks |
    /// | --- | --- |
    /// | fit | timings, train/valid mode, metrics, progress, interrupt |
    /// | evaluate | train/valid mode, metrics, progress, interrupt |
    /// | predict | interrupt |
    ///
    /// The progress callback prints only when the run is verbose.
    func defaultCallbacks(interrupt: InterruptCallback) -> [any Callback] {
        switch self {
        case .fit: return [TimingsCallback(), TrainValidCallback(), MetricsCallback(), ProgressCallback(), interrupt]
        case .evaluate: return [TrainValidCallback(), MetricsCallback(), ProgressCallback(), interrupt]
        case .predict: return [interrupt]
        }
    }

    /// The names of this mode's default callbacks, in running order.
    public var defaultCallbackNames: [String] {
        defaultCallbacks(interrupt: InterruptCallback()).sorted { $0.weight < $1.weight }.map(\.name)
    }
}

/// The one loop behind `fit`, `evaluate` and `predict`: it runs the epochs, the training and
/// validation loops over batches, the default training step (a loss per optimizer, luz's
/// `fit_one_batch`), and fires every event to the callbacks.
///
/// Batches may hold several inputs and targets (``TensorTree``): a ``StructuredModule`` gets
/// them all, any other model the single input tensor. Floating-point inputs and targets are
/// converted to the dtype of the model's parameters when they differ (a `Tensor([[0.5, 1.0]])`
/// literal is float64; the layers are float32), so a run never computes silently in float64
/// at twice the cost; integer tensors (class indices, token ids) are left as they are.
final class Engine {
    let context: Context
    /// The model as the loop calls it: the batch's inputs to its outputs.
    let forward: (TensorTree) -> TensorTree
    /// The floating-point dtype of the model's parameters, if it has any.
    let modelDType: DType?
    /// The model's own training step, when it has one (looked up once, not per batch).
    let customStep: (any CustomTrainingStep)?

    init(_ context: Context) {
        self.context = context
        let model = context.model
        if let structured = model as? any StructuredModule {
            forward = { structured.forward(inputs: $0) }
        } else {
            forward = { inputs in .tensor(model(inputs.singleTensor("the batch's input to \(model.typeName) (a model of several inputs conforms to StructuredModule)"))) }
        }
        modelDType = model.parameters().first { $0.dtype.isFloatingPoint }?.dtype
        customStep = model as? any CustomTrainingStep
    }

    /// The one way a run's context is made: the mode's default callbacks, then the user's,
    /// sorted by weight (ties keep their order); fresh metrics for each set.
    static func makeContext(mode: RunMode, model: Module, optimizers: [(String, Optimizer)], setup: TrainingSetup,
                            verbose: Bool, callbacks: [any Callback], metrics: [any Metric]? = nil) -> Context {
        let context = Context(mode: mode, model: model, optimizers: optimizers, lossFunction: setup.loss,
                              hyperparameters: setup.hyperparameters,
                              optimizerHyperparameters: setup.optimizerHyperparameters, verbose: verbose)
        context.callbacks = (mode.defaultCallbacks(interrupt: context.interrupt) + callbacks).enumerated().sorted {
            $0.element.weight != $1.element.weight ? $0.element.weight < $1.element.weight : $0.offset < $1.offset
        }.map(\.element)
        context.trainMetrics = [LossAverage()] + setup.metrics.map { $0.fresh() }
        context.validMetrics = [LossAverage()] + (metrics ?? setup.validMetrics ?? setup.metrics).map { $0.fresh() }
        return context
    }

    // MARK: - Fit

    /// Runs the epochs `context.startEpoch...context.maxEpochs`.
    func fit() throws {
        context.interrupt.begin()
        defer { context.interrupt.finish() }
        try checkMonitors()
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
            if let data = context.trainData { try trainLoop(data) }
            if let data = context.validData, !context.interrupted { try validationLoop(data) }
            context.lastTrainedEpoch = epoch
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

    /// Every monitor of the callbacks names a value the run records: stops at the start with
    /// the names that exist, instead of at the end of the first epoch.
    func checkMonitors() throws {
        var sets = ["train"]
        if context.validData != nil { sets.append("valid") }
        var available = Set<Monitor>()
        for set in sets {
            for metric in set == "train" ? context.trainMetrics : context.validMetrics {
                available.insert(Monitor(set: set, metric: MetricName(metric.name)))
            }
        }
        for callback in context.callbacks { available.formUnion(callback.recordedMetrics) }
        for callback in context.callbacks {
            for monitor in callback.monitors where !available.contains(monitor) {
                // Without validation data a `valid_` monitor falls back to the training value.
                if monitor.set == "valid", context.validData == nil, available.contains(monitor.onTrainingSet) { continue }
                let names = available.map(\.name).sorted().joined(separator: ", ")
                throw CallbackError(callback: callback.name, event: .fitBegin, underlying: LuzError.invalidArgument(
                    "no metric named '\(monitor.name)' is recorded by this run; the names are: \(names) (a callback that logs its own value lists it in `recordedMetrics`)"))
            }
        }
    }

    /// The batch with its floating-point tensors in the model's dtype.
    func conformed(_ batch: Example) -> Example {
        guard let dtype = modelDType else { return batch }
        func convert(_ tree: TensorTree) -> TensorTree {
            if case .tensor(let tensor) = tree {  // the common case, without a walk
                return tensor.dtype.isFloatingPoint && tensor.dtype != dtype ? .tensor(tensor.to(dtype)) : tree
            }
            return tree.map { $0.dtype.isFloatingPoint && $0.dtype != dtype ? $0.to(dtype) : $0 }
        }
        return Example(inputs: convert(batch.inputs), targets: convert(batch.targets))
    }

    private func beginLoop(training: Bool, batchCount: Int) {
        context.isTraining = training
        context.batchCount = batchCount
        context.iteration = 0
        context.runningLoss = nil
        lossTotal = 0
        lossCount = 0
    }

    /// The loss summed over the current loop's examples so far, and their number.
    private var lossTotal = 0.0
    private var lossCount = 0

    /// The batch's result for the metrics, and the running loss.
    private func finishBatch(_ batch: Example) {
        let size = batch.batchSize
        let loss = lossOfRecord()
        if let loss {
            lossTotal += loss * Double(size)
            lossCount += size
            context.runningLoss = lossTotal / Double(max(lossCount, 1))
        }
        context.batchResult = BatchResult(predictions: (context.predictions ?? .array([])).map { $0.detached() },
                                          targets: batch.targets, loss: loss, losses: context.loss, batchSize: size)
    }

    /// The loss that stands for the batch: the one of the optimizer named `"opt"`, or of the
    /// first optimizer that has one.
    private func lossOfRecord() -> Double? {
        if let loss = context.loss["opt"] { return loss }
        for (name, _) in context.optimizers { if let loss = context.loss[name] { return loss } }
        return context.loss.values.first
    }

    /// Runs `body` on every batch of `data` (in the model's dtype, as ``Context/batch``),
    /// counting iterations, until the data ends or Ctrl+C was pressed during a batch; returns
    /// whether it was.
    private func forEachBatch(_ data: DataSource, _ body: (Example) throws -> Void) throws -> Bool {
        let iterator = data.makeIterator()
        while let batch = iterator.next() {
            context.iteration += 1
            let batch = conformed(batch)
            context.batch = batch
            try body(batch)
            if context.interruptRequested { return true }
        }
        return false
    }

    func trainLoop(_ data: DataSource) throws {
        beginLoop(training: true, batchCount: data.batchCount)
        try context.fire(.trainBegin)
        context.interrupted = try forEachBatch(data) { batch in
            context.mixedTargets = nil
            context.predictions = nil
            context.lossForBackward = nil
            context.loss = [:]
            context.stepsOptimizer = true
            context.runsBackward = true
            try context.fire(.trainBatchBegin)
            if let custom = customStep {
                try custom.trainingStep(context)
            } else {
                try defaultTrainingStep()
            }
            finishBatch(context.batch ?? batch)
            try context.fire(.trainBatchEnd)
        }
        context.mixedTargets = nil
        try context.fire(.trainEnd)
    }

    /// luz's `fit_one_batch`: for each optimizer in turn, the prediction, its loss, backward,
    /// the step and zeroing its gradients, with the batch events around each stage. With one
    /// optimizer (the usual case) that is one pass.
    private func defaultTrainingStep() throws {
        if context.optimizers.isEmpty { return try optimizerPass(name: "opt", optimizer: nil) }
        for (index, entry) in context.optimizers.enumerated() {
            if index > 0 {
                context.stepsOptimizer = true
                context.runsBackward = true
            }
            try optimizerPass(name: entry.name, optimizer: entry.optimizer)
        }
    }

    /// One optimizer's part of the training step.
    private func optimizerPass(name: String, optimizer: Optimizer?) throws {
        context.optimizerName = name
        // The batch as the callbacks left it (Mixup replaces the input).
        guard let batch = context.batch else { return }
        let predictions = forward(batch.inputs)
        context.predictions = predictions
        try context.fire(.trainBatchAfterPrediction)
        let loss = try computeLoss(predictions: predictions, targets: batch.targets, optimizer: name)
        context.lossForBackward = loss
        let lossValue = loss.item
        context.loss[name] = lossValue
        try context.fire(.trainBatchAfterLoss)
        try context.fire(.trainBatchBeforeBackward)
        if context.runsBackward, let loss = context.lossForBackward {
            loss.backward(onLeafGradient: context.onLeafGradient)
            try context.afterBackward?()
        }
        try context.fire(.trainBatchBeforeStep)
        if context.stepsOptimizer, let optimizer {
            if optimizer.reevaluatesLoss {
                try stepReevaluating(optimizer, batch: batch, name: name, firstLoss: lossValue)
            } else {
                withNoGrad { optimizer.step() }
            }
            optimizer.zeroGrad()
        }
        try context.fire(.trainBatchAfterStep)
    }

    /// Steps an optimizer that evaluates the loss several times (``LBFGS``) with a closure over
    /// the batch, as luz passes one to `opt$step`. Its first evaluation is the one the batch's
    /// events saw (the gradients are there, after any callback changed them before the step);
    /// every later one clears this optimizer's gradients, recomputes the prediction and the
    /// loss on the same batch and runs backward. The events fire once per batch, for the first.
    private func stepReevaluating(_ optimizer: Optimizer, batch: Example, name: String, firstLoss: Double) throws {
        var isFirst = true
        try optimizer.step {
            if isFirst {
                isFirst = false
                return firstLoss
            }
            optimizer.zeroGrad()
            let loss = try computeLoss(predictions: forward(batch.inputs), targets: batch.targets, optimizer: name)
            loss.backward()
            try context.afterBackward?()
            return loss.item
        }
    }

    /// The setup's loss, the mixed loss of a ``Mixup`` batch, or the model's own.
    func computeLoss(predictions: TensorTree, targets: TensorTree, optimizer: String) throws -> Tensor {
        if let mixed = context.mixedTargets {
            guard let computeMixed = context.lossFunction?.computeMixed else {
                throw LuzError.invalidArgument(MixedTargets.missingLossMessage)
            }
            return computeMixed(predictions.singleTensor("the model's output"), mixed)
        }
        if let lossFunction = context.lossFunction { return lossFunction.compute(predictions, targets) }
        if let provider = context.model as? any LossProviding {
            return provider.loss(predictions: predictions, targets: targets, optimizer: optimizer)
        }
        throw LuzError.invalidArgument("setup has no loss, and the model \(context.model.typeName) does not conform to LossProviding")
    }

    // MARK: - Validation and evaluation

    func validationLoop(_ data: DataSource) throws {
        beginLoop(training: false, batchCount: data.batchCount)
        try context.fire(.validBegin)
        context.interrupted = try withNoGrad {
            try forEachBatch(data) { batch in
                context.loss = [:]
                try context.fire(.validBatchBegin)
                let predictions = forward(batch.inputs)
                context.predictions = predictions
                try context.fire(.validBatchAfterPrediction)
                try validationLosses(predictions: predictions, targets: batch.targets)
                context.lossForBackward = nil
                try context.fire(.validBatchAfterLoss)
                finishBatch(batch)
                try context.fire(.validBatchEnd)
            }
        }
        try context.fire(.validEnd)
    }

    /// The validation loss of each optimizer (luz's `valid_one_batch`): the setup's loss once
    /// for all, or the model's loss per optimizer.
    private func validationLosses(predictions: TensorTree, targets: TensorTree) throws {
        let names = context.optimizers.isEmpty ? ["opt"] : context.optimizers.map(\.name)
        if context.lossFunction != nil || names.count == 1 {
            let value = try computeLoss(predictions: predictions, targets: targets, optimizer: names[0]).item
            for name in names { context.loss[name] = value }
        } else {
            for name in names {
                context.loss[name] = try computeLoss(predictions: predictions, targets: targets, optimizer: name).item
            }
        }
    }

    /// The loss and metrics on `data` in evaluation mode: the validation loop alone, as epoch 1.
    func evaluate(_ data: DataSource) throws {
        context.interrupt.begin()
        defer { context.interrupt.finish() }
        context.epoch = 1
        try validationLoop(data)
        if context.interrupted {
            throw LuzError.invalidArgument("evaluate: interrupted after \(context.iteration) of \(data.batchCount) batches")
        }
    }

    // MARK: - Prediction

    /// The model's outputs for every batch of `data`, each passed through `transform`.
    func predict<Output>(_ data: DataSource, _ transform: (TensorTree) throws -> Output) throws -> [Output] {
        context.interrupt.begin()
        defer { context.interrupt.finish() }
        context.isTraining = false
        context.batchCount = data.batchCount
        var outputs: [Output] = []
        try context.fire(.predictBegin)
        let interrupted = try withNoGrad {
            try forEachBatch(data) { batch in
                try context.fire(.predictBatchBegin)
                let predictions = forward(batch.inputs)
                context.predictions = predictions
                outputs.append(try transform(predictions))
                try context.fire(.predictBatchEnd)
            }
        }
        if interrupted {
            throw LuzError.invalidArgument("predict: interrupted after \(context.iteration) of \(data.batchCount) batches")
        }
        try context.fire(.predictEnd)
        return outputs
    }
}
