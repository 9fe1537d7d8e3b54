import Foundation

/// Which direction of a monitored value is an improvement.
public enum MonitorMode: String, Sendable {
    /// Lower is better (losses, errors).
    case min
    /// Higher is better (accuracy, AUC).
    case max
    /// Closer to zero is better.
    case zero
    /// `max` for names that look like accuracies or scores, `min` otherwise.
    case auto

    func resolved(for monitor: Monitor) -> MonitorMode {
        guard self == .auto else { return self }
        return monitor.looksHigherIsBetter ? .max : .min
    }

    /// Whether `value` improves on `best` by more than `minDelta`.
    func improves(_ value: Double, on best: Double?, minDelta: Double) -> Bool {
        guard value.isFinite else { return false }
        guard let best else { return true }
        switch self {
        case .min, .auto: return value < best - minDelta
        case .max: return value > best + minDelta
        case .zero: return Swift.abs(value) < Swift.abs(best) - minDelta
        }
    }
}

/// Looks a monitored value up for the current epoch, falling back from `valid_` to `train_`
/// when there is no validation data.
func monitoredValue(_ monitor: Monitor, _ context: Context, callback: String) throws -> Double {
    if let value = context.metric(monitor) { return value }
    if monitor.set == "valid", context.validData == nil, let value = context.metric(monitor.onTrainingSet) {
        return value
    }
    let known = context.records.rows.filter { $0.epoch == context.epoch }.map { "\($0.set)_\($0.metric)" }
    throw LuzError.invalidArgument("\(callback): no value named '\(monitor)' this epoch; recorded: \(known.joined(separator: ", "))")
}

/// The best monitored value of a run, its epoch and, when kept, the model's weights then: the
/// state of ``EarlyStopping`` and ``KeepBestModel``, saved in checkpoints alike so that a
/// resumed run remembers the best epoch before the interruption.
struct BestSoFar {
    var value: Double?
    var epoch = 0
    var weights: StateDict?

    var checkpointState: [String: Tensor] {
        var state = ["bestEpoch": Tensor(scalar: Double(epoch))]
        if let value { state["bestValue"] = Tensor(scalar: value) }
        if let weights { for (key, tensor) in weights { state["best.\(key)"] = tensor } }
        return state
    }

    /// Reads the state back; a damaged checkpoint's NaN or non-scalar is an error naming the
    /// entry, not a crash.
    init(checkpointState state: [String: Tensor]) throws {
        epoch = try state["bestEpoch"].map { try StateDict.counter(of: $0, key: "bestEpoch") } ?? 0
        value = try state["bestValue"].map { try StateDict.scalar(of: $0, key: "bestValue") }
        if let value, !value.isFinite { throw StateDictError.incompatible("'bestValue' holds \(value), not a finite value") }
        let entries = state.filter { $0.key.hasPrefix("best.") }
        weights = entries.isEmpty ? nil : StateDict(entries.map { (String($0.key.dropFirst(5)), $0.value) }.sorted { $0.0 < $1.0 })
    }

    init() {}

    /// Records `value` of `context.epoch` if it improves on the best.
    mutating func update(_ value: Double, mode: MonitorMode, minDelta: Double, context: Context, keepsWeights: Bool) -> Bool {
        guard mode.improves(value, on: self.value, minDelta: minDelta) else { return false }
        self.value = value
        epoch = context.epoch
        if keepsWeights { weights = context.model.stateDict().cloned() }
        return true
    }
}

/// Stops training when a monitored value has not improved for `patience` epochs.
///
/// Patience counts epochs without improvement: with `patience: 2` the run stops after the
/// second consecutive epoch that does not beat the best value by more than `minDelta` (so
/// `patience: 0` stops at the first such epoch, and never while the value improves — unlike
/// luz 0.5). `baseline` is a value that must be beaten; with `restoreBestWeights` the weights
/// of the best epoch are put back when the run stops. Runs last (weight 1000) and never stops
/// before the fit's minimum epochs.
public final class EarlyStopping: Callback {
    /// The monitored value, checked when the run begins.
    public var monitors: [Monitor] { [monitor] }
    public let monitor: Monitor
    public let minDelta: Double
    public let patience: Int
    public let mode: MonitorMode
    public let baseline: Double?
    public let restoreBestWeights: Bool
    public var weight: Double { 1000 }

    /// The best value seen and its epoch.
    public var bestValue: Double? { best.value }
    public var bestEpoch: Int { best.epoch }
    /// Epochs since the last improvement.
    public private(set) var epochsWithoutImprovement = 0
    /// The epoch at which the run was stopped, if it was.
    public private(set) var stoppedEpoch: Int?
    private var best = BestSoFar()

    public init(monitor: Monitor = .valid(.loss), minDelta: Double = 0, patience: Int = 0, mode: MonitorMode = .auto,
                baseline: Double? = nil, restoreBestWeights: Bool = false) {
        require(patience >= 0, "EarlyStopping: patience must be non-negative, got \(patience)")
        self.monitor = monitor
        self.minDelta = Swift.abs(minDelta)
        self.patience = patience
        self.mode = mode.resolved(for: monitor)
        self.baseline = baseline
        self.restoreBestWeights = restoreBestWeights
    }

    public func handle(_ event: Event, _ context: Context) throws {
        switch event {
        case .fitBegin where context.startEpoch == 1:
            best = BestSoFar()
            best.value = baseline
            epochsWithoutImprovement = 0
            stoppedEpoch = nil
        case .epochEnd:
            let value = try monitoredValue(monitor, context, callback: name)
            if best.update(value, mode: mode, minDelta: minDelta, context: context, keepsWeights: restoreBestWeights) {
                epochsWithoutImprovement = 0
            } else {
                epochsWithoutImprovement += 1
                if epochsWithoutImprovement >= Swift.max(patience, 1) {
                    if context.epoch >= context.minEpochs {
                        stoppedEpoch = context.epoch
                        context.requestStop(reason: "early stopping: \(monitor) did not improve for \(epochsWithoutImprovement) epoch\(epochsWithoutImprovement == 1 ? "" : "s") (best \(bestValue.map { String(format: "%.4f", $0) } ?? "none") at epoch \(bestEpoch))")
                    }
                }
            }
        case .earlyStopping, .fitEnd:
            if restoreBestWeights, let weights = best.weights, bestEpoch != context.epoch {
                try context.model.loadStateDict(weights)
            }
        default:
            break
        }
    }

    public func checkpointState() -> [String: Tensor] {
        var state = best.checkpointState
        state["wait"] = Tensor(scalar: Double(epochsWithoutImprovement))
        return state
    }

    public func restore(checkpointState state: [String: Tensor]) throws {
        let restored = try BestSoFar(checkpointState: state)
        epochsWithoutImprovement = try state["wait"].map { try StateDict.counter(of: $0, key: "wait") } ?? 0
        best = restored
    }
}

/// Keeps the weights of the best epoch by a monitored value and puts them back at the end of
/// the run (luz's `luz_callback_keep_best_model`).
public final class KeepBestModel: Callback {
    /// The monitored value, checked when the run begins.
    public var monitors: [Monitor] { [monitor] }
    public let monitor: Monitor
    public let mode: MonitorMode
    public let minDelta: Double
    public var weight: Double { 1000 }
    public var bestValue: Double? { best.value }
    public var bestEpoch: Int { best.epoch }
    private var best = BestSoFar()

    public init(monitor: Monitor = .valid(.loss), mode: MonitorMode = .auto, minDelta: Double = 0) {
        self.monitor = monitor
        self.mode = mode.resolved(for: monitor)
        self.minDelta = minDelta
    }

    public func handle(_ event: Event, _ context: Context) throws {
        switch event {
        case .fitBegin where context.startEpoch == 1:
            best = BestSoFar()
        case .epochEnd:
            _ = best.update(try monitoredValue(monitor, context, callback: name), mode: mode, minDelta: minDelta,
                            context: context, keepsWeights: true)
        case .fitEnd:
            if let weights = best.weights { try context.model.loadStateDict(weights) }
        default:
            break
        }
    }

    public func checkpointState() -> [String: Tensor] { best.checkpointState }

    public func restore(checkpointState state: [String: Tensor]) throws { best = try BestSoFar(checkpointState: state) }
}

/// Saves checkpoints during training (luz's `luz_callback_model_checkpoint`).
///
/// `path` is a template: `{epoch}` (or `{epoch:02d}`) and any monitored name such as
/// `{valid_loss}` (or `{valid_loss:.3f}`) are replaced by their values, e.g.
/// `"checkpoints/epoch-{epoch:02d}-{valid_loss:.3f}.safetensors"`. Each file is a full
/// ``Checkpoint`` (weights, optimizer and callback state, records), written atomically.
public final class ModelCheckpoint: PrimaryProcessCallback {
    /// The monitored value (when saving only the best) and the values the path names.
    public var monitors: [Monitor] {
        (saveBestOnly ? [monitor] : []) + ModelCheckpoint.placeholders(in: path).filter { $0 != "epoch" }.map { Monitor($0) }
    }
    public let path: String
    public let monitor: Monitor
    public let mode: MonitorMode
    public let saveBestOnly: Bool
    public let everyEpochs: Int
    public var weight: Double { 950 }
    /// The files written, in order.
    public private(set) var savedPaths: [String] = []
    private var bestValue: Double?

    public init(path: String, monitor: Monitor = .valid(.loss), mode: MonitorMode = .auto,
                saveBestOnly: Bool = false, everyEpochs: Int = 1) {
        require(everyEpochs >= 1, "ModelCheckpoint: everyEpochs must be at least 1, got \(everyEpochs)")
        self.path = path
        self.monitor = monitor
        self.mode = mode.resolved(for: monitor)
        self.saveBestOnly = saveBestOnly
        self.everyEpochs = everyEpochs
    }

    public func handle(_ event: Event, _ context: Context) throws {
        guard event == .epochEnd, context.epoch % everyEpochs == 0 else { return }
        if saveBestOnly {
            let value = try monitoredValue(monitor, context, callback: name)
            guard mode.improves(value, on: bestValue, minDelta: 0) else { return }
            bestValue = value
        }
        let file = try ModelCheckpoint.expand(path, context: context)
        let directory = (file as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        try Checkpoint(context: context).save(to: file)
        savedPaths.append(file)
    }

    // The best value so far, so that a resumed run with `saveBestOnly` does not save a worse epoch.
    public func checkpointState() -> [String: Tensor] {
        bestValue.map { ["bestValue": Tensor(scalar: $0)] } ?? [:]
    }

    public func restore(checkpointState state: [String: Tensor]) throws {
        bestValue = try BestSoFar(checkpointState: state).value
    }

    /// The names of the `{name}` and `{name:format}` placeholders of a path template.
    static func placeholders(in template: String) -> [String] {
        var names: [String] = []
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            let inside = rest[rest.index(after: open)..<close]
            names.append(String(inside.split(separator: ":", maxSplits: 1).first ?? ""))
            rest = rest[rest.index(after: close)...]
        }
        return names
    }

    /// Replaces `{name}` and `{name:format}` placeholders with the epoch or monitored values.
    static func expand(_ template: String, context: Context) throws -> String {
        var result = ""
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{") {
            result += rest[..<open]
            guard let close = rest[open...].firstIndex(of: "}") else {
                throw LuzError.invalidArgument("ModelCheckpoint: unclosed '{' in path template \(template)")
            }
            let inside = rest[rest.index(after: open)..<close]
            let parts = inside.split(separator: ":", maxSplits: 1)
            let key = String(parts.first ?? "")
            let format = parts.count > 1 ? "%" + parts[1] : nil
            if key == "epoch" {
                result += format.map { String(format: $0, context.epoch) } ?? String(context.epoch)
            } else {
                let value = try monitoredValue(Monitor(key), context, callback: "ModelCheckpoint")
                result += String(format: format ?? "%.4f", value)
            }
            rest = rest[rest.index(after: close)...]
        }
        return result + rest
    }
}

/// Writes one CSV row per epoch per set (`epoch,set,loss,acc,…`), luz's `luz_callback_csv_logger`.
/// On a resumed run it appends to the existing file.
public final class CSVLogger: PrimaryProcessCallback {
    public let path: String
    public var weight: Double { 100 }
    private var columns: [String] = []

    public init(path: String) { self.path = path }

    public func handle(_ event: Event, _ context: Context) throws {
        switch event {
        case .fitBegin:
            columns = []
            if context.startEpoch == 1 || !FileManager.default.fileExists(atPath: path) {
                try Data().write(to: URL(fileURLWithPath: path))
            } else if let text = try? String(contentsOfFile: path, encoding: .utf8),
                      let header = text.split(separator: "\n").first {
                columns = header.split(separator: ",").dropFirst(2).map(String.init)
            }
        case .epochEnd:
            var lines = ""
            if columns.isEmpty {
                columns = context.records.metrics
                lines += (["epoch", "set"] + columns).joined(separator: ",") + "\n"
            }
            for set in ["train", "valid"] {
                let rows = context.records.rows(set: set, epoch: context.epoch)
                guard !rows.isEmpty else { continue }
                let values = columns.map { column in rows.first { $0.metric == column }.map { String($0.value) } ?? "" }
                lines += ([String(context.epoch), set] + values).joined(separator: ",") + "\n"
            }
            try append(lines)
        default:
            break
        }
    }

    private func append(_ text: String) throws {
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw LuzError.invalidArgument("CSVLogger: cannot open \(path) for writing")
        }
        defer { try? handle.close() }
        handle.seekToEndOfFile()
        handle.write(Data(text.utf8))
    }
}

/// Appends one JSON object per epoch per set to a file (JSON lines):
/// `{"epoch":1,"set":"train","loss":0.41,"acc":0.88}`.
public final class MetricsLogger: PrimaryProcessCallback {
    public let path: String
    public var weight: Double { 100 }

    public init(path: String) { self.path = path }

    public func handle(_ event: Event, _ context: Context) throws {
        switch event {
        case .fitBegin where context.startEpoch == 1:
            try Data().write(to: URL(fileURLWithPath: path))
        case .epochEnd:
            var text = ""
            for set in ["train", "valid"] {
                let rows = context.records.rows(set: set, epoch: context.epoch)
                guard !rows.isEmpty else { continue }
                let fields = ["\"epoch\":\(context.epoch)", "\"set\":\"\(set)\""]
                    + rows.map { "\"\($0.metric)\":\($0.value.isFinite ? String($0.value) : "null")" }
                text += "{" + fields.joined(separator: ",") + "}\n"
            }
            if !FileManager.default.fileExists(atPath: path) { try Data().write(to: URL(fileURLWithPath: path)) }
            guard let handle = FileHandle(forWritingAtPath: path) else {
                throw LuzError.invalidArgument("MetricsLogger: cannot open \(path) for writing")
            }
            defer { try? handle.close() }
            handle.seekToEndOfFile()
            handle.write(Data(text.utf8))
        default:
            break
        }
    }
}

/// Stops the run as soon as a training loss is NaN or infinite (Keras' `TerminateOnNaN`).
public final class TerminateOnNaN: Callback {
    public init() {}
    public func handle(_ event: Event, _ context: Context) throws {
        guard event == .trainBatchEnd, let loss = context.loss["opt"] ?? context.loss.values.first,
              !loss.isFinite else { return }
        context.requestStop(reason: "the training loss became \(loss) at batch \(context.iteration) of epoch \(context.epoch)")
        context.interrupted = true
    }
}

/// Steps the optimizer every `steps` batches only, summing the gradients of the batches in
/// between (the loss of each is divided by `steps`, so the update is that of the mean).
public final class GradientAccumulation: Callback {
    public let steps: Int
    public init(steps: Int) {
        require(steps >= 1, "GradientAccumulation: steps must be at least 1, got \(steps)")
        self.steps = steps
    }

    public func handle(_ event: Event, _ context: Context) throws {
        switch event {
        case .trainBatchAfterLoss:
            if steps > 1, let loss = context.lossForBackward {
                context.lossForBackward = withGradMode(enabled: true) { loss / Double(steps) }
            }
        case .trainBatchBeforeStep:
            context.stepsOptimizer = context.iteration % steps == 0 || context.iteration == context.batchCount
        default:
            break
        }
    }
}

/// Steps a learning-rate scheduler during training (luz's `luz_callback_lr_scheduler`), made for
/// the run's optimizer when the fit begins; records the learning rate of each epoch as
/// `train_lr`.
///
/// ```swift
/// LRSchedulerCallback { StepLR(optimizer: $0, stepSize: 10, gamma: 0.5) }                  // every epoch
/// LRSchedulerCallback(callOn: .trainBatchEnd) { OneCycleLR(optimizer: $0, maximumLearningRate: 0.1, totalSteps: 1000) }
/// LRSchedulerCallback(monitor: "valid_loss") { ReduceLROnPlateau(optimizer: $0, patience: 2) }
/// ```
/// Any named optimizer can be scheduled (`optimizer: "generator"`), unlike luz's callback.
public final class LRSchedulerCallback: Callback {
    /// The plateau scheduler's monitored value, checked when the run begins.
    public var monitors: [Monitor] {
        if case .plateau(_, let monitor) = kind { return [monitor] }
        return []
    }
    /// The learning rate, logged as `train_lr` at the end of every epoch.
    public var recordedMetrics: [Monitor] { [.train("lr")] }
    enum Kind {
        case regular((Optimizer) -> LRScheduler)
        case plateau((Optimizer) -> ReduceLROnPlateau, monitor: Monitor)
    }
    let kind: Kind
    /// The event after which the scheduler steps.
    public let callOn: Event
    /// The optimizer scheduled (`nil`: the only one, or the one named `"opt"`).
    public let optimizerName: String?
    /// The scheduler of the current run.
    public private(set) var scheduler: LRScheduler?
    public private(set) var plateauScheduler: ReduceLROnPlateau?
    private var pendingState: StateDict?

    /// Steps `make(optimizer)` after every `callOn` event (the end of each epoch by default).
    public init(optimizer: String? = nil, callOn: Event = .epochEnd, _ make: @escaping (Optimizer) -> LRScheduler) {
        kind = .regular(make)
        self.callOn = callOn
        optimizerName = optimizer
    }

    /// Feeds a monitored value to a ``ReduceLROnPlateau`` at the end of every epoch.
    public init(optimizer: String? = nil, monitor: Monitor, _ make: @escaping (Optimizer) -> ReduceLROnPlateau) {
        kind = .plateau(make, monitor: monitor)
        callOn = .epochEnd
        optimizerName = optimizer
    }

    private func optimizer(_ context: Context) throws -> Optimizer {
        if let optimizerName {
            guard let found = context.optimizers.first(where: { $0.name == optimizerName })?.optimizer else {
                throw LuzError.invalidArgument("LRSchedulerCallback: no optimizer named '\(optimizerName)'; the run has \(context.optimizers.map(\.name))")
            }
            return found
        }
        guard let only = context.optimizer else { throw LuzError.invalidArgument("LRSchedulerCallback: the run has no optimizer") }
        return only
    }

    public func handle(_ event: Event, _ context: Context) throws {
        if event == .fitBegin {
            let optimizer = try optimizer(context)
            // A scheduler sets the rates (and OneCycleLR the momentum) of its epoch 0 when it
            // is made; on a resumed run the optimizer already holds the restored ones, which
            // the restored scheduler continues from (torch restores the optimizer after
            // building the scheduler for the same reason).
            let rates = optimizer.parameterGroups.map(\.learningRate), momentum = optimizer.schedulableMomentum
            switch kind {
            case .regular(let make): scheduler = make(optimizer)
            case .plateau(let make, _): plateauScheduler = make(optimizer)
            }
            if let state = pendingState {
                try scheduler?.loadStateDict(state)
                try plateauScheduler?.loadStateDict(state)
                pendingState = nil
                for (g, rate) in rates.enumerated() { optimizer.parameterGroups[g].learningRate = rate }
                if let momentum { optimizer.schedulableMomentum = momentum }
            }
        }
        if event == .epochEnd, let optimizer = try? optimizer(context) {
            context.log("lr", value: optimizer.learningRate, set: "train")
        }
        guard event == callOn else { return }
        switch kind {
        case .regular:
            scheduler?.step()
        case .plateau(_, let monitor):
            plateauScheduler?.step(metric: try monitoredValue(monitor, context, callback: name))
        }
    }

    public func checkpointState() -> [String: Tensor] {
        var result: [String: Tensor] = [:]
        for (key, tensor) in scheduler?.stateDict() ?? plateauScheduler?.stateDict() ?? StateDict() { result[key] = tensor }
        return result
    }

    // The scheduler is made at `fitBegin`, after the restore; its entries are checked here so
    // that a damaged one fails the restore (which then leaves the model as it was).
    public func restore(checkpointState state: [String: Tensor]) throws {
        for (key, tensor) in state where !tensor.doubles.allSatisfy(\.isFinite) {
            throw StateDictError.incompatible("'\(key)' holds a value that is not finite")
        }
        if let epoch = state["last_epoch"] { _ = try StateDict.counter(of: epoch, key: "last_epoch") }
        pendingState = state.isEmpty ? nil : StateDict(state.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
    }
}

/// Clips the gradients before each optimizer step: by their global norm (torch's
/// `clip_grad_norm_`, luz's `luz_callback_gradient_clip`) or elementwise by value.
public final class GradientClip: Callback {
    public let maximumNorm: Double?
    public let normType: Double
    public let maximumValue: Double?
    /// The gradient norm of the last batch, before clipping (when clipping by norm).
    public private(set) var lastNorm: Double?

    /// Rescales the gradients so that their global `normType`-norm is at most `maximumNorm`.
    public init(maximumNorm: Double, normType: Double = 2) {
        self.maximumNorm = maximumNorm
        self.normType = normType
        self.maximumValue = nil
    }

    /// Clamps every gradient element to `[-maximumValue, maximumValue]`.
    public init(maximumValue: Double) {
        self.maximumNorm = nil
        self.normType = 2
        self.maximumValue = maximumValue
    }

    public func handle(_ event: Event, _ context: Context) throws {
        guard event == .trainBatchBeforeStep, context.stepsOptimizer else { return }
        let parameters = context.optimizers.flatMap { $0.optimizer.parameters }
        if let maximumNorm { lastNorm = clipGradientNorm(parameters, maximumNorm: maximumNorm, normType: normType) }
        if let maximumValue { clipGradientValue(parameters, maximumValue: maximumValue) }
    }
}
