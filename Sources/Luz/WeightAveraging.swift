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
        let parameters = context.model.parameters()
        switch event {
        case .fitBegin:
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
