import Foundation
import LuzSerialization
import LuzTensor

/// The base class of the learning-rate schedulers that advance with ``step()`` (once per epoch,
/// or per batch for ``OneCycleLR``), following torch's `lr_scheduler` semantics.
///
/// Creating a scheduler records each group's current learning rate as its base rate and sets
/// the rate for epoch 0, as torch's constructor does; each ``step()`` advances the epoch
/// counter and updates every group's rate. The step-wise schedulers (StepLR, MultiStepLR,
/// ExponentialLR, CosineAnnealingLR) update the current rates multiplicatively as torch's
/// "chainable" forms do, so they compose with other changes to the rate.
open class LRScheduler {
    /// The optimizer whose learning rates are scheduled.
    public let optimizer: Optimizer
    /// Each group's learning rate when the scheduler was created (restored by
    /// ``loadStateDict(_:)``: a scheduler rebuilt on a resumed run must not take the decayed
    /// rate as its base).
    public internal(set) var baseLearningRates: [Double]
    /// The number of ``step()`` calls so far (torch's `last_epoch`, 0 after creation).
    public internal(set) var lastEpoch = 0
    /// The learning rates set by the last step (torch's `get_last_lr()`).
    public internal(set) var learningRates: [Double]

    /// Records the base rates of `optimizer`'s groups and sets the rates of epoch 0.
    public init(optimizer: Optimizer) {
        self.optimizer = optimizer
        baseLearningRates = optimizer.parameterGroups.map(\.learningRate)
        learningRates = baseLearningRates
    }

    /// Sets the rates for epoch 0; subclasses call it at the end of their initializer.
    func start() {
        apply(learningRates(current: optimizer.parameterGroups.map(\.learningRate)))
    }

    /// Advances one epoch (or batch) and sets the new learning rates.
    public func step() {
        lastEpoch += 1
        apply(learningRates(current: optimizer.parameterGroups.map(\.learningRate)))
    }

    /// Starts the schedule again from epoch 0, with the rates of epoch 0 computed from the base
    /// rates (torch's `step(0)`, which ``SequentialLR`` calls at each milestone).
    func restart() {
        lastEpoch = 0
        apply(learningRatesAtRestart())
    }

    /// The rates of epoch 0 from the base rates. A scheduler with more state than its epoch
    /// resets it here.
    func learningRatesAtRestart() -> [Double] {
        learningRates(current: baseLearningRates)
    }

    func apply(_ rates: [Double]) {
        require(rates.count == optimizer.parameterGroups.count,
                "\(Self.self): \(rates.count) rates for \(optimizer.parameterGroups.count) groups")
        for (i, rate) in rates.enumerated() { optimizer.parameterGroups[i].learningRate = rate }
        learningRates = rates
    }

    /// The learning rates for ``lastEpoch`` given the groups' current ones. Subclasses override it.
    open func learningRates(current: [Double]) -> [Double] { current }

    /// The scheduler's position, for checkpoints (`last_epoch` and the base rates).
    public func stateDict() -> StateDict {
        var state = StateDict()
        state["last_epoch"] = Tensor(scalar: Int64(lastEpoch))
        state["base_lrs"] = Tensor(baseLearningRates)
        state.metadata = ["scheduler": "\(Self.self)"]
        return state
    }

    /// Restores the position saved by ``stateDict()`` (the optimizer's rates are restored with
    /// the optimizer's own state).
    public func loadStateDict(_ state: StateDict) throws {
        guard let epoch = state["last_epoch"] else { throw StateDictError.missingKey("last_epoch") }
        guard let base = state["base_lrs"] else { throw StateDictError.missingKey("base_lrs") }
        guard base.shape == [baseLearningRates.count] else {
            throw StateDictError.shapeMismatch(key: "base_lrs", expected: [baseLearningRates.count], found: base.shape)
        }
        let bases = base.doubles
        guard bases.allSatisfy({ $0.isFinite && $0 >= 0 }) else {
            throw StateDictError.incompatible("'base_lrs' holds \(bases), not learning rates")
        }
        lastEpoch = try StateDict.counter(of: epoch, key: "last_epoch")
        baseLearningRates = bases
        learningRates = optimizer.parameterGroups.map(\.learningRate)
    }
}

/// Multiplies the learning rate by `gamma` every `stepSize` epochs (torch's `StepLR`):
/// γ·gamma^⌊epoch / stepSize⌋.
public final class StepLR: LRScheduler {
    /// The number of epochs between decays.
    public let stepSize: Int
    /// The decay factor (torch's 0.1).
    public let gamma: Double

    /// Creates the scheduler.
    public init(optimizer: Optimizer, stepSize: Int, gamma: Double = 0.1) {
        require(stepSize > 0, "StepLR: stepSize must be positive, got \(stepSize)")
        self.stepSize = stepSize
        self.gamma = gamma
        super.init(optimizer: optimizer)
        start()
    }

    public override func learningRates(current: [Double]) -> [Double] {
        if lastEpoch == 0 || lastEpoch % stepSize != 0 { return current }
        return current.map { $0 * gamma }
    }
}

/// Multiplies the learning rate by `gamma` at each milestone epoch (torch's `MultiStepLR`):
/// γ·gamma^(number of milestones ≤ epoch).
public final class MultiStepLR: LRScheduler {
    /// The epochs at which the rate decays (a repeated milestone decays several times).
    public let milestones: [Int]
    /// The decay factor (torch's 0.1).
    public let gamma: Double

    /// Creates the scheduler.
    public init(optimizer: Optimizer, milestones: [Int], gamma: Double = 0.1) {
        self.milestones = milestones.sorted()
        self.gamma = gamma
        super.init(optimizer: optimizer)
        start()
    }

    public override func learningRates(current: [Double]) -> [Double] {
        let hits = milestones.filter { $0 == lastEpoch }.count
        if hits == 0 { return current }
        let factor = pow(gamma, Double(hits))
        return current.map { $0 * factor }
    }
}

/// Multiplies the learning rate by `gamma` every epoch (torch's `ExponentialLR`): γ·gamma^epoch.
public final class ExponentialLR: LRScheduler {
    /// The decay factor per epoch.
    public let gamma: Double

    /// Creates the scheduler.
    public init(optimizer: Optimizer, gamma: Double) {
        self.gamma = gamma
        super.init(optimizer: optimizer)
        start()
    }

    public override func learningRates(current: [Double]) -> [Double] {
        lastEpoch == 0 ? current : current.map { $0 * gamma }
    }
}

/// Cosine annealing from the base rate down to `minimumLearningRate` over `maximumEpochs`
/// epochs (torch's `CosineAnnealingLR`, without restarts):
/// η_min + (γ − η_min)·(1 + cos(π·epoch / T_max)) / 2, continued as a cosine past T_max.
public final class CosineAnnealingLR: LRScheduler {
    /// T_max, the number of epochs of the half cosine.
    public let maximumEpochs: Int
    /// η_min, the rate at T_max (torch's 0).
    public let minimumLearningRate: Double

    /// Creates the scheduler.
    public init(optimizer: Optimizer, maximumEpochs: Int, minimumLearningRate: Double = 0) {
        require(maximumEpochs > 0, "CosineAnnealingLR: maximumEpochs must be positive, got \(maximumEpochs)")
        self.maximumEpochs = maximumEpochs
        self.minimumLearningRate = minimumLearningRate
        super.init(optimizer: optimizer)
        start()
    }

    public override func learningRates(current: [Double]) -> [Double] {
        let t = Double(lastEpoch), period = Double(maximumEpochs), floor = minimumLearningRate
        if lastEpoch == 0 { return current }
        // torch's recursive form: the same values as the closed form, but it respects changes
        // made to the rate by others in between.
        let phase = ((lastEpoch - 1 - maximumEpochs) % (2 * maximumEpochs) + 2 * maximumEpochs) % (2 * maximumEpochs)
        if phase == 0 {
            return zip(current, baseLearningRates).map { rate, base in
                rate + (base - floor) * (1 - cos(Double.pi / period)) / 2
            }
        }
        return current.map { rate in
            (1 + cos(Double.pi * t / period)) / (1 + cos(Double.pi * (t - 1) / period)) * (rate - floor) + floor
        }
    }
}

/// The base rate times a function of the epoch (torch's `LambdaLR`): γ·factor(epoch).
public final class LambdaLR: LRScheduler {
    /// The multiplier for each epoch.
    public let factor: (Int) -> Double

    /// Creates the scheduler with one multiplier function for every group.
    public init(optimizer: Optimizer, factor: @escaping (Int) -> Double) {
        self.factor = factor
        super.init(optimizer: optimizer)
        start()
    }

    public override func learningRates(current: [Double]) -> [Double] {
        let f = factor(lastEpoch)
        return baseLearningRates.map { $0 * f }
    }
}

/// The one-cycle policy (torch's `OneCycleLR`), stepped after every batch: the rate rises from
/// maxLR/divFactor to maxLR over the first `percentStart` of the steps, then anneals to
/// maxLR/(divFactor·finalDivFactor); the momentum (SGD's momentum, Adam's β₁) moves the
/// opposite way between `maximumMomentum` and `baseMomentum`.
///
/// Defaults as torch: 30 % warm-up, cosine annealing, momentum 0.85–0.95, divFactor 25,
/// finalDivFactor 1e4, two phases.
public final class OneCycleLR: LRScheduler {
    /// How a phase moves from its start value to its end value.
    public enum Annealing: Sendable {
        /// end + (start − end)·(1 + cos(π·pct)) / 2.
        case cosine
        /// start + (end − start)·pct.
        case linear
    }

    private enum Rate { case initial, maximum, minimum }
    private enum Momentum { case base, maximum }
    private struct Phase {
        let endStep: Double
        let startRate: Rate, endRate: Rate
        let startMomentum: Momentum, endMomentum: Momentum
    }

    /// The total number of steps of the cycle.
    public let totalSteps: Int
    /// The shape of each phase.
    public let annealing: Annealing
    /// Whether the momentum is cycled (needs an optimizer with a momentum).
    public let cycleMomentum: Bool
    private let maximumRates: [Double]
    private let initialRates: [Double]
    private let minimumRates: [Double]
    private let baseMomentum: Double
    private let maximumMomentum: Double
    private let phases: [Phase]

    /// Creates the scheduler.
    ///
    /// - Parameters:
    ///   - maximumLearningRate: the peak rate (one for all groups).
    ///   - totalSteps: the number of ``step()`` calls the cycle lasts (epochs × batches per epoch).
    ///   - percentStart: the fraction of steps spent increasing the rate (0.3).
    ///   - annealing: cosine (torch's default) or linear.
    ///   - cycleMomentum: vary the momentum inversely to the rate (`true`).
    ///   - baseMomentum, maximumMomentum: the momentum range (0.85, 0.95).
    ///   - divFactor: the initial rate is maxLR / divFactor (25).
    ///   - finalDivFactor: the final rate is the initial rate / finalDivFactor (1e4).
    ///   - threePhase: use torch's three-phase variant (rise, symmetric fall, final annihilation).
    public init(optimizer: Optimizer, maximumLearningRate: Double, totalSteps: Int, percentStart: Double = 0.3,
                annealing: Annealing = .cosine, cycleMomentum: Bool = true, baseMomentum: Double = 0.85,
                maximumMomentum: Double = 0.95, divFactor: Double = 25, finalDivFactor: Double = 1e4,
                threePhase: Bool = false) {
        require(totalSteps > 0, "OneCycleLR: totalSteps must be positive, got \(totalSteps)")
        require((0...1).contains(percentStart), "OneCycleLR: percentStart must be in [0, 1], got \(percentStart)")
        require(!cycleMomentum || optimizer.schedulableMomentum != nil,
                "OneCycleLR: \(type(of: optimizer)) has no momentum to cycle; pass cycleMomentum: false")
        self.totalSteps = totalSteps
        self.annealing = annealing
        self.cycleMomentum = cycleMomentum
        let groups = optimizer.parameterGroups.count
        maximumRates = Array(repeating: maximumLearningRate, count: groups)
        initialRates = maximumRates.map { $0 / divFactor }
        minimumRates = initialRates.map { $0 / finalDivFactor }
        self.baseMomentum = baseMomentum
        self.maximumMomentum = maximumMomentum
        let total = Double(totalSteps)
        if threePhase {
            phases = [
                Phase(endStep: percentStart * total - 1, startRate: .initial, endRate: .maximum,
                      startMomentum: .maximum, endMomentum: .base),
                Phase(endStep: 2 * percentStart * total - 2, startRate: .maximum, endRate: .initial,
                      startMomentum: .base, endMomentum: .maximum),
                Phase(endStep: total - 1, startRate: .initial, endRate: .minimum,
                      startMomentum: .maximum, endMomentum: .maximum),
            ]
        } else {
            phases = [
                Phase(endStep: percentStart * total - 1, startRate: .initial, endRate: .maximum,
                      startMomentum: .maximum, endMomentum: .base),
                Phase(endStep: total - 1, startRate: .maximum, endRate: .minimum,
                      startMomentum: .base, endMomentum: .maximum),
            ]
        }
        super.init(optimizer: optimizer)
        if cycleMomentum { optimizer.schedulableMomentum = maximumMomentum }
        start()
    }

    /// Restores the position; one past the end of the cycle at most (a damaged count must be
    /// an error here, not a stop at the next step).
    public override func loadStateDict(_ state: StateDict) throws {
        let steps = try state.counter("last_epoch")
        guard steps <= totalSteps else {
            throw StateDictError.incompatible("'last_epoch' is \(steps), past totalSteps \(totalSteps)")
        }
        try super.loadStateDict(state)
    }

    private func anneal(_ start: Double, _ end: Double, _ pct: Double) -> Double {
        switch annealing {
        case .cosine: return end + (start - end) / 2 * (1 + cos(Double.pi * pct))
        case .linear: return (end - start) * pct + start
        }
    }

    private func rate(_ level: Rate, group: Int) -> Double {
        switch level {
        case .initial: return initialRates[group]
        case .maximum: return maximumRates[group]
        case .minimum: return minimumRates[group]
        }
    }

    private func momentum(_ level: Momentum) -> Double { level == .maximum ? maximumMomentum : baseMomentum }

    public override func learningRates(current: [Double]) -> [Double] {
        // torch allows one step past the last (step number == totalSteps) and refuses more.
        require(lastEpoch <= totalSteps,
                "OneCycleLR: stepped \(lastEpoch) times, more than totalSteps \(totalSteps)")
        let stepNumber = Double(lastEpoch)
        var startStep = 0.0
        for (i, phase) in phases.enumerated() {
            if stepNumber <= phase.endStep || i == phases.count - 1 {
                let pct = (stepNumber - startStep) / (phase.endStep - startStep)
                if cycleMomentum {
                    optimizer.schedulableMomentum = anneal(momentum(phase.startMomentum), momentum(phase.endMomentum), pct)
                }
                return current.indices.map { g in anneal(rate(phase.startRate, group: g), rate(phase.endRate, group: g), pct) }
            }
            startStep = phase.endStep
        }
        return current
    }
}

/// Lowers the learning rate when a monitored metric stops improving (torch's
/// `ReduceLROnPlateau`, same defaults): after more than `patience` epochs without improvement
/// the rate is multiplied by `factor` (not below `minimumLearningRate`), then `cooldown`
/// epochs pass before counting again.
///
/// Improvement in `min` mode with the relative threshold: metric < best·(1 − threshold);
/// absolute: metric < best − threshold (mirrored in `max` mode).
public final class ReduceLROnPlateau {
    /// Whether lower (``Mode/min``) or higher (``Mode/max``) metric values are better.
    public enum Mode: Sendable {
        /// Lower is better (a loss).
        case min
        /// Higher is better (an accuracy).
        case max
    }
    /// Whether the improvement threshold is relative to the best value or absolute.
    public enum ThresholdMode: Sendable {
        /// Better means beyond best·(1 ∓ threshold).
        case relative
        /// Better means beyond best ∓ threshold.
        case absolute
    }

    /// The optimizer whose learning rates are reduced.
    public let optimizer: Optimizer
    /// Whether lower or higher is better (torch's `min`).
    public let mode: Mode
    /// The factor applied to the rate (torch's 0.1).
    public let factor: Double
    /// The number of epochs without improvement tolerated (torch's 10).
    public let patience: Int
    /// The minimum significant change (torch's 1e-4).
    public let threshold: Double
    /// Relative (torch's default) or absolute threshold.
    public let thresholdMode: ThresholdMode
    /// Epochs to wait after a reduction before counting again (torch's 0).
    public let cooldown: Int
    /// The lowest rate per group (torch's 0).
    public let minimumLearningRates: [Double]
    /// Reductions smaller than this are skipped (torch's 1e-8).
    public let epsilon: Double

    /// The best metric seen.
    public private(set) var best: Double
    /// Consecutive epochs without improvement.
    public private(set) var badEpochs = 0
    /// Epochs left in the cooldown.
    public private(set) var cooldownCounter = 0
    /// The number of ``step(metric:)`` calls.
    public private(set) var lastEpoch = 0

    /// Creates the scheduler.
    public init(optimizer: Optimizer, mode: Mode = .min, factor: Double = 0.1, patience: Int = 10,
                threshold: Double = 1e-4, thresholdMode: ThresholdMode = .relative, cooldown: Int = 0,
                minimumLearningRate: Double = 0, epsilon: Double = 1e-8) {
        require(factor < 1, "ReduceLROnPlateau: factor must be below 1, got \(factor)")
        self.optimizer = optimizer
        self.mode = mode
        self.factor = factor
        self.patience = patience
        self.threshold = threshold
        self.thresholdMode = thresholdMode
        self.cooldown = cooldown
        minimumLearningRates = Array(repeating: minimumLearningRate, count: optimizer.parameterGroups.count)
        self.epsilon = epsilon
        best = mode == .min ? .infinity : -.infinity
    }

    /// The current learning rate of each group.
    public var learningRates: [Double] { optimizer.parameterGroups.map(\.learningRate) }

    private func isBetter(_ value: Double) -> Bool {
        switch (mode, thresholdMode) {
        case (.min, .relative): return value < best * (1 - threshold)
        case (.min, .absolute): return value < best - threshold
        case (.max, .relative): return value > best * (1 + threshold)
        case (.max, .absolute): return value > best + threshold
        }
    }

    /// Records the epoch's metric and reduces the rates if it has not improved for more than
    /// ``patience`` epochs.
    public func step(metric: Double) {
        lastEpoch += 1
        if isBetter(metric) {
            best = metric
            badEpochs = 0
        } else {
            badEpochs += 1
        }
        if cooldownCounter > 0 {
            cooldownCounter -= 1
            badEpochs = 0
        }
        if badEpochs > patience {
            for g in optimizer.parameterGroups.indices {
                let old = optimizer.parameterGroups[g].learningRate
                let new = Swift.max(old * factor, minimumLearningRates[g])
                if old - new > epsilon { optimizer.parameterGroups[g].learningRate = new }
            }
            cooldownCounter = cooldown
            badEpochs = 0
        }
    }

    /// The scheduler's counters, for checkpoints.
    public func stateDict() -> StateDict {
        var state = StateDict()
        state["best"] = Tensor(scalar: best)
        state["num_bad_epochs"] = Tensor(scalar: Int64(badEpochs))
        state["cooldown_counter"] = Tensor(scalar: Int64(cooldownCounter))
        state["last_epoch"] = Tensor(scalar: Int64(lastEpoch))
        state.metadata = ["scheduler": "ReduceLROnPlateau"]
        return state
    }

    /// Restores the counters saved by ``stateDict()``.
    public func loadStateDict(_ state: StateDict) throws {
        let restored = (try state.scalar("best"), try state.counter("num_bad_epochs"),
                        try state.counter("cooldown_counter"), try state.counter("last_epoch"))
        best = restored.0
        badEpochs = restored.1
        cooldownCounter = restored.2
        lastEpoch = restored.3
    }
}
