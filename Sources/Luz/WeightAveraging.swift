import LuzNN

/// Keeps an exponential moving average of the model's parameters during training (EMA, as
/// torch's `AveragedModel` with `get_ema_multi_avg_fn`, timm's `ModelEma` and Lightning's EMA
/// callbacks): after every optimizer step, a ← a + (1 − d)·(θ − a).
///
/// Validation runs with the averaged parameters (the training ones are put back after it), and
/// at the end of the fit the model keeps the averaged parameters, so `evaluate`, `predict` and
/// saved weights use them. With `warmup`, the decay of update t (from 0) is
/// min(d, (1 + t) / (10 + t)), as TensorFlow's `ExponentialMovingAverage` with `num_updates`,
/// so that the first updates do not keep the random initial weights. Buffers (BatchNorm's
/// running statistics) are the model's own, not averaged.
///
/// The averages and the update count are saved in checkpoints: a resumed fit ends with the
/// same averaged weights as an uninterrupted one.
///
/// ```swift
/// try setup.fit(data, epochs: 20, callbacks: [ExponentialMovingAverage(decay: 0.999, warmup: true)])
/// ```
public final class ExponentialMovingAverage: Callback {
    /// d, the weight of the average at each update (torch and timm use 0.999 and above).
    public let decay: Double
    /// Whether the decay ramps up over the first updates.
    public let warmup: Bool
    /// Whether the model keeps the averaged parameters at the end of the fit.
    public let appliesAtEnd: Bool
    /// The number of updates so far.
    public private(set) var updates = 0
    /// The averaged parameters, in the order of the model's `parameters()`.
    public private(set) var averages: [Tensor] = []
    public var weight: Double { 50 }

    private var trainingValues: [Tensor] = []
    private var restored: [Tensor]?
    /// The model's parameters, taken once when the fit begins: walking the model per batch
    /// would cost a reflection walk per step (the optimizer holds its list the same way).
    private var parameters: [Tensor] = []

    /// Creates the callback.
    /// - Parameters:
    ///   - decay: the decay d in [0, 1].
    ///   - warmup: ramp the decay up as min(d, (1 + t) / (10 + t)).
    ///   - appliesAtEnd: leave the averaged parameters in the model when the fit ends (`true`).
    public init(decay: Double = 0.999, warmup: Bool = false, appliesAtEnd: Bool = true) {
        require((0...1).contains(decay), "ExponentialMovingAverage: decay must be in [0, 1], got \(decay)")
        self.decay = decay
        self.warmup = warmup
        self.appliesAtEnd = appliesAtEnd
    }

    /// The decay of the next update.
    public var currentDecay: Double {
        warmup ? Swift.min(decay, Double(1 + updates) / Double(10 + updates)) : decay
    }

    public func handle(_ event: Event, _ context: Context) throws {
        switch event {
        case .fitBegin:
            parameters = context.model.parameters()
            trainingValues = []
            if let restored {
                guard restored.count == parameters.count,
                      zip(restored, parameters).allSatisfy({ $0.shape == $1.shape }) else {
                    throw LuzError.invalidArgument(
                        "ExponentialMovingAverage: the checkpoint holds \(restored.count) averages, the model has \(parameters.count) parameters of other shapes")
                }
                averages = zip(restored, parameters).map { average, parameter in withNoGrad { average.to(parameter.dtype).cloned() } }
                self.restored = nil
            } else {
                averages = parameters.map { parameter in withNoGrad { parameter.detached().cloned() } }
                updates = 0
            }
        case .trainBatchAfterStep where context.stepsOptimizer:
            let weight = 1 - currentDecay
            for (average, parameter) in zip(averages, parameters) { lerp(average, toward: parameter, weight: weight) }
            updates += 1
        case .validBegin:
            trainingValues = parameters.map { parameter in withNoGrad { parameter.detached().cloned() } }
            withNoGrad { for (parameter, average) in zip(parameters, averages) { parameter.copy(from: average) } }
        case .validEnd:
            withNoGrad { for (parameter, value) in zip(parameters, trainingValues) { parameter.copy(from: value) } }
            trainingValues = []
        case .fitEnd where appliesAtEnd:
            withNoGrad { for (parameter, average) in zip(parameters, averages) { parameter.copy(from: average) } }
        default:
            break
        }
    }

    /// The update count and the averages (`average.<i>`).
    public func checkpointState() -> [String: Tensor] {
        var state = ["updates": Tensor(scalar: Int64(updates))]
        for (i, average) in averages.enumerated() { state["average.\(i)"] = average }
        return state
    }

    /// Restores what ``checkpointState()`` saved; the averages are checked against the model
    /// when the fit begins.
    public func restore(checkpointState state: [String: Tensor]) throws {
        guard let count = state["updates"] else { return }
        updates = try StateDict.counter(of: count, key: "updates")
        var found: [Tensor] = []
        while let average = state["average.\(found.count)"] { found.append(average) }
        guard found.count == state.count - 1 else {
            throw StateDictError.incompatible("ExponentialMovingAverage: the averages are not numbered 0..<\(state.count - 1)")
        }
        restored = found
    }
}

/// a ← a + w·(v − a), elementwise, in the precision of `average`.
private func lerp(_ average: Tensor, toward value: Tensor, weight: Double) {
    func run<T: TensorFloat>(_: T.Type) {
        let w = T(weight)
        average.withUnsafeMutableBufferPointer(as: T.self) { a in
            value.withUnsafeBufferPointer(as: T.self) { v in
                for i in 0..<a.count { a[i] += w * (v[i] - a[i]) }
            }
        }
    }
    switch (average.dtype, value.dtype) {
    case (.float32, .float32): run(Float.self)
    case (.float64, .float64): run(Double.self)
    default: withNoGrad { average.copy(from: value) }
    }
}

/// Stochastic weight averaging (SWA; torch's `AveragedModel` + `SWALR` + `update_bn`, as
/// Lightning's `StochasticWeightAveraging`): from `startEpoch` on, the parameters at the end of
/// every epoch are averaged with equal weights, and with a `learningRate` the rate anneals to it
/// over `annealEpochs` epochs (``SWALR``; do not combine it with another scheduler). When the fit
/// ends the model takes the averaged parameters and, with `updatesBatchNorm`, BatchNorm's
/// running statistics are recomputed with one pass over the training data (cumulative
/// averages, as `update_bn`): the averaged weights never produced the old ones.
///
/// The average, its count and the schedule are saved in checkpoints: a resumed fit ends with the
/// same weights as an uninterrupted one.
public final class StochasticWeightAveraging: Callback {
    /// The first epoch (from 1) whose end is averaged.
    public let startEpoch: Int
    /// The rate SWA trains at, or `nil` to leave the rate alone.
    public let learningRate: Double?
    /// The epochs over which the rate anneals to ``learningRate`` (torch's 10).
    public let annealEpochs: Int
    /// The shape of that annealing (torch's cosine).
    public let annealing: SWALR.Annealing
    /// Whether BatchNorm's running statistics are recomputed for the averaged weights at the end.
    public let updatesBatchNorm: Bool
    /// The number of epochs averaged so far.
    public private(set) var averagedCount = 0
    /// The averaged parameters, in the order of the model's `parameters()` (empty before `startEpoch`).
    public private(set) var averages: [Tensor] = []
    public var weight: Double { 50 }

    private var scheduler: SWALR?
    private var restored: (count: Int, averages: [Tensor], schedule: StateDict?)?

    /// Creates the callback.
    public init(startEpoch: Int, learningRate: Double? = nil, annealEpochs: Int = 10, annealing: SWALR.Annealing = .cosine,
                updatesBatchNorm: Bool = true) {
        require(startEpoch >= 1, "StochasticWeightAveraging: startEpoch counts from 1, got \(startEpoch)")
        require(annealEpochs >= 0, "StochasticWeightAveraging: annealEpochs must not be negative, got \(annealEpochs)")
        self.startEpoch = startEpoch
        self.learningRate = learningRate
        self.annealEpochs = annealEpochs
        self.annealing = annealing
        self.updatesBatchNorm = updatesBatchNorm
    }

    private func makeScheduler(_ context: Context) throws -> SWALR? {
        guard let learningRate else { return nil }
        guard let optimizer = context.optimizer else {
            throw LuzError.invalidArgument("StochasticWeightAveraging: the run has no optimizer to set the SWA rate of")
        }
        return SWALR(optimizer: optimizer, swaLearningRate: learningRate, annealEpochs: annealEpochs, annealing: annealing)
    }

    public func handle(_ event: Event, _ context: Context) throws {
        switch event {
        case .fitBegin, .epochBegin, .epochEnd, .fitEnd: break
        default: return
        }
        let parameters = context.model.parameters()
        switch event {
        case .fitBegin:
            scheduler = nil
            averages = []
            averagedCount = 0
            if let restored {
                self.restored = nil
                guard restored.averages.isEmpty || (restored.averages.count == parameters.count
                      && zip(restored.averages, parameters).allSatisfy({ $0.shape == $1.shape })) else {
                    throw LuzError.invalidArgument(
                        "StochasticWeightAveraging: the checkpoint holds \(restored.averages.count) averages, the model has \(parameters.count) parameters of other shapes")
                }
                averagedCount = restored.count
                averages = zip(restored.averages, parameters).map { average, parameter in withNoGrad { average.to(parameter.dtype).cloned() } }
                if let schedule = restored.schedule, let optimizer = context.optimizer {
                    // Made at SWA's start, it set that epoch's rate; the restored optimizer holds the right one.
                    let rates = optimizer.parameterGroups.map(\.learningRate)
                    scheduler = try makeScheduler(context)
                    try scheduler?.loadStateDict(schedule)
                    for (g, rate) in rates.enumerated() { optimizer.parameterGroups[g].learningRate = rate }
                }
            }
        case .epochBegin where context.epoch == startEpoch && scheduler == nil:
            scheduler = try makeScheduler(context)
        case .epochEnd where context.epoch >= startEpoch:
            if averages.isEmpty {
                averages = parameters.map { parameter in withNoGrad { parameter.detached().cloned() } }
            } else {
                let weight = 1 / Double(averagedCount + 1)
                for (average, parameter) in zip(averages, parameters) { lerp(average, toward: parameter, weight: weight) }
            }
            averagedCount += 1
            scheduler?.step()
        case .fitEnd where !averages.isEmpty:
            withNoGrad { for (parameter, average) in zip(parameters, averages) { parameter.copy(from: average) } }
            if updatesBatchNorm, let data = context.trainData { recomputeBatchNormStatistics(context.model, data) }
        default:
            break
        }
    }

    /// torch's `update_bn`: running statistics reset and accumulated as plain averages over one
    /// pass of the data in training mode, without gradients.
    private func recomputeBatchNormStatistics(_ model: Module, _ data: DataSource) {
        let layers = model.namedModules().compactMap { $0.module as? BatchNormBase }
        guard !layers.isEmpty else { return }
        let momenta = layers.map(\.momentum)
        for layer in layers {
            withNoGrad {
                layer.runningMean?.fill(0)
                layer.runningVariance?.fill(1)
                layer.batchesTracked?.fill(0)
            }
            layer.momentum = nil
        }
        let wasTraining = model.isTraining
        model.train()
        let iterator = data.makeIterator()
        withNoGrad { while let batch = iterator.next() { _ = model(batch.input) } }
        model.train(wasTraining)
        for (layer, momentum) in zip(layers, momenta) { layer.momentum = momentum }
    }

    /// The count, the averages (`average.<i>`) and the schedule (`schedule.<key>`).
    public func checkpointState() -> [String: Tensor] {
        var state = ["averaged": Tensor(scalar: Int64(averagedCount))]
        for (i, average) in averages.enumerated() { state["average.\(i)"] = average }
        for (key, tensor) in scheduler?.stateDict() ?? StateDict() { state["schedule.\(key)"] = tensor }
        return state
    }

    /// Restores what ``checkpointState()`` saved; checked against the model when the fit begins.
    public func restore(checkpointState state: [String: Tensor]) throws {
        guard let count = state["averaged"] else { return }
        var found: [Tensor] = []
        while let average = state["average.\(found.count)"] { found.append(average) }
        let schedule = state.filter { $0.key.hasPrefix("schedule.") }
        guard found.count + schedule.count == state.count - 1 else {
            throw StateDictError.incompatible("StochasticWeightAveraging: the averages are not numbered 0..<\(found.count)")
        }
        let scheduleState = schedule.isEmpty ? nil
            : StateDict(schedule.map { (String($0.key.dropFirst("schedule.".count)), $0.value) }.sorted { $0.0 < $1.0 })
        restored = (try StateDict.counter(of: count, key: "averaged"), found, scheduleState)
    }
}
