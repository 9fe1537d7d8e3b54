import Foundation

/// Everything a callback can see and change during a run (luz's `ctx`): the model, optimizers,
/// data, the current epoch and batch, predictions, losses, metrics and records.
///
/// One context is created per `fit` (or `evaluate`, `predict`) and passed to every callback
/// explicitly; callbacks keep no reference to it after the run.
public final class Context {
    /// The model being trained.
    public let model: Module
    /// The optimizers by name; a single optimizer is named `"opt"`.
    public internal(set) var optimizers: [(name: String, optimizer: Optimizer)]
    /// The loss function of the setup.
    public let lossFunction: LossFunction?
    /// Model and optimizer hyper-parameters of the setup.
    public let hyperparameters: Hyperparameters
    public let optimizerHyperparameters: Hyperparameters

    /// The training batches (nil in `evaluate` and `predict`).
    public internal(set) var trainData: DataSource?
    /// The validation batches, if any.
    public internal(set) var validData: DataSource?

    /// The current epoch, counting from 1.
    public internal(set) var epoch = 0
    /// The epoch the run starts from (greater than 1 after resuming from a checkpoint).
    public internal(set) var startEpoch = 1
    /// Early stopping never stops before this epoch.
    public internal(set) var minEpochs = 1
    /// The last epoch of the run.
    public internal(set) var maxEpochs = 1
    /// The index of the batch within the current loop, counting from 1.
    public internal(set) var iteration = 0
    /// The number of batches of the current loop.
    public internal(set) var batchCount = 0
    /// `true` in the training loop, `false` in validation and prediction.
    public internal(set) var isTraining = false

    /// The current batch (callbacks may replace it at `trainBatchBegin`, as ``Mixup`` does).
    public internal(set) var batch: Example?
    /// The input of the current batch, when it is one tensor (see `batch.inputs` otherwise).
    public var input: Tensor? { batch?.inputs.tensor }
    /// The target of the current batch, when it is one tensor (see `batch.targets` otherwise).
    public var target: Tensor? { batch?.targets.tensor }
    /// The two targets and weights of the current batch when ``Mixup`` or ``CutMix`` mixed
    /// its inputs (`nil` otherwise, and always outside training batches); the loss is then
    /// the weighted one of ``MixupLoss``.
    public internal(set) var mixedTargets: MixedTargets?
    /// The model's output for the current batch: one tensor, or several by position or name.
    public var predictions: TensorTree?
    /// The model's output for the current batch, when it is one tensor.
    public var prediction: Tensor? {
        get { predictions?.tensor }
        set { predictions = newValue.map(TensorTree.tensor) }
    }
    /// The name of the optimizer whose loss the training step is computing (luz's
    /// `ctx$opt_name`): with several optimizers, the step computes a loss for each in turn.
    public internal(set) var optimizerName: String?
    /// The mean loss of the current loop's batches so far, weighted by batch size (what the
    /// progress bar shows).
    public internal(set) var runningLoss: Double?
    /// The loss to backpropagate for the current batch (callbacks may replace it, e.g. to
    /// scale it for gradient accumulation).
    public var lossForBackward: Tensor?
    /// What the metrics see of the current batch, once it has run (at `trainBatchEnd` and
    /// `validBatchEnd`).
    public internal(set) var batchResult: BatchResult?
    /// The current batch's loss, detached, per optimizer name.
    public internal(set) var loss: [String: Double] = [:]

    /// Sets the current batch's loss value (for custom training steps; `name` is the optimizer's).
    public func setLoss(_ value: Double, for name: String = "opt") {
        loss[name] = value
    }

    /// Set to `false` by a callback during `trainBatchBeforeStep` to skip this batch's
    /// optimizer step and gradient zeroing (gradient accumulation).
    public var stepsOptimizer = true
    /// Set to `false` by a callback during `trainBatchBeforeBackward` to skip the backward pass.
    public var runsBackward = true

    /// Training metrics (fresh instances for this run).
    public internal(set) var trainMetrics: [any Metric] = []
    /// Validation metrics.
    public internal(set) var validMetrics: [any Metric] = []
    /// The per-epoch values so far.
    public internal(set) var records = Records()

    /// How long the run has taken so far (filled by the timings callback).
    public internal(set) var timings = Timings()

    /// Whether progress is printed.
    public let verbose: Bool
    /// The callbacks of the run, in running order.
    public internal(set) var callbacks: [any Callback] = []

    /// Why the run stopped early, when it did.
    public internal(set) var stopReason: String?
    var interrupted = false
    /// The last epoch whose loops ran (to their end, or until an interrupt).
    var lastTrainedEpoch = 0
    /// The run's Ctrl+C watcher (one of the mode's default callbacks).
    let interrupt = InterruptCallback()
    /// What the run is doing.
    public let mode: RunMode

    /// The processes of a data-parallel run (``DistributedDataParallel``), `nil` for a run of
    /// one process.
    public internal(set) var processGroup: (any ProcessGroup)?
    /// Whether this process prints and writes files: rank 0 of a data-parallel run, or the
    /// only process.
    public var isPrimaryProcess: Bool { (processGroup?.rank ?? 0) == 0 }
    /// Runs after every backward pass of the training step (the gradient averaging of a
    /// data-parallel run).
    var afterBackward: (() throws -> Void)?
    /// Called during every backward pass of the training step with each parameter whose
    /// gradient is complete (a data-parallel run starts sending it).
    var onLeafGradient: ((Tensor) -> Void)?

    /// Averages the gradients across the processes of a data-parallel run (nothing in a run of
    /// one process). The default training step does it after every backward pass; a model's
    /// own step (``CustomTrainingStep``) calls it between its backward pass and its optimizer
    /// step.
    public func synchronizeGradients() throws { try afterBackward?() }

    /// Whether Ctrl+C was pressed during this run.
    var interruptRequested: Bool { interrupt.isInterrupted }

    /// Made only by the engine's `makeContext`, the one place a run's context is assembled.
    init(mode: RunMode, model: Module, optimizers: [(String, Optimizer)], lossFunction: LossFunction?,
         hyperparameters: Hyperparameters, optimizerHyperparameters: Hyperparameters, verbose: Bool) {
        self.mode = mode
        self.model = model
        self.optimizers = optimizers.map { (name: $0.0, optimizer: $0.1) }
        self.lossFunction = lossFunction
        self.hyperparameters = hyperparameters
        self.optimizerHyperparameters = optimizerHyperparameters
        self.verbose = verbose
    }

    /// The only optimizer, or the one named `"opt"`.
    public var optimizer: (Optimizer)? {
        optimizers.first { $0.name == "opt" }?.optimizer ?? optimizers.first?.optimizer
    }

    /// `"train"` or `"valid"`: the set the current loop works on.
    public var currentSet: String { isTraining ? "train" : "valid" }

    /// Asks the run to stop at the end of the current epoch (as early stopping does).
    public func requestStop(reason: String) {
        if stopReason == nil { stopReason = reason }
    }

    /// Whether a stop has been requested.
    public var stopRequested: Bool { stopReason != nil }

    /// Records a value for the current epoch, shown and saved like a metric (for example a
    /// learning rate, or a quantity computed by a callback that others monitor).
    public func log(_ name: String, value: Double, set: String? = nil) {
        records.record(set: set ?? currentSet, metric: name, epoch: epoch, value: value)
    }

    /// A recorded value by monitor (`.valid(.loss)`, `"valid_loss"`), for the current epoch by default.
    public func metric(_ monitor: Monitor, epoch: Int? = nil) -> Double? {
        records.value(set: monitor.set, metric: monitor.metric.name, epoch: epoch ?? self.epoch)
    }

    /// A recorded value by its monitor name held in a string (`"valid_loss"`).
    public func metric(named name: String, epoch: Int? = nil) -> Double? { metric(Monitor(name), epoch: epoch) }

    /// Runs every callback's reaction to `event` (callbacks can fire events for each other).
    public func fire(_ event: Event) throws {
        try withNoGrad {
            // The rank is read once per event, and the conformance check (a runtime lookup)
            // runs only on the ranks that skip rank-0-only callbacks.
            let primary = isPrimaryProcess
            for callback in callbacks {
                if !primary, callback is any PrimaryProcessCallback { continue }
                do {
                    try callback.handle(event, self)
                } catch let error as CallbackError {
                    throw error
                } catch {
                    throw CallbackError(callback: callback.name, event: event, underlying: error)
                }
            }
        }
    }
}
