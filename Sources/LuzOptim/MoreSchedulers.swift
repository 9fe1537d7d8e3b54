import Foundation
import LuzSerialization
import LuzTensor

/// Multiplies the base learning rate by a factor that moves linearly from `startFactor` to
/// `endFactor` over `totalSteps` steps, then stays at `endFactor` (torch's `LinearLR`, the usual
/// warm-up): γ·(start + (end − start)·min(epoch, total) / total).
///
/// Defaults as torch: from a third of the rate to the whole rate over 5 steps.
public final class LinearLR: LRScheduler {
    /// The factor of epoch 0 (torch's 1/3).
    public let startFactor: Double
    /// The factor from `totalSteps` on (torch's 1).
    public let endFactor: Double
    /// The number of steps of the ramp (torch's 5).
    public let totalSteps: Int

    /// Creates the scheduler.
    public init(optimizer: Optimizer, startFactor: Double = 1.0 / 3, endFactor: Double = 1, totalSteps: Int = 5) {
        require(startFactor > 0 && startFactor <= 1,
                "LinearLR: startFactor must be in (0, 1], got \(startFactor)")
        require(endFactor >= 0 && endFactor <= 1, "LinearLR: endFactor must be in [0, 1], got \(endFactor)")
        require(totalSteps > 0, "LinearLR: totalSteps must be positive, got \(totalSteps)")
        self.startFactor = startFactor
        self.endFactor = endFactor
        self.totalSteps = totalSteps
        super.init(optimizer: optimizer)
        start()
    }

    public override func learningRates(current: [Double]) -> [Double] {
        if lastEpoch == 0 { return current.map { $0 * startFactor } }
        if lastEpoch > totalSteps { return current }
        // torch's chainable form: the ratio of this step's factor to the previous one's.
        let change = endFactor - startFactor
        let ratio = 1 + change / (Double(totalSteps) * startFactor + Double(lastEpoch - 1) * change)
        return current.map { $0 * ratio }
    }
}

/// Multiplies the learning rate by `factor` for the first `totalSteps` steps, then restores it
/// (torch's `ConstantLR`). Defaults as torch: a third of the rate for 5 steps.
public final class ConstantLR: LRScheduler {
    /// The factor applied until `totalSteps` (torch's 1/3).
    public let factor: Double
    /// The step at which the full rate comes back (torch's 5).
    public let totalSteps: Int

    /// Creates the scheduler.
    public init(optimizer: Optimizer, factor: Double = 1.0 / 3, totalSteps: Int = 5) {
        require(factor >= 0 && factor <= 1, "ConstantLR: factor must be in [0, 1], got \(factor)")
        require(totalSteps >= 0, "ConstantLR: totalSteps must not be negative, got \(totalSteps)")
        self.factor = factor
        self.totalSteps = totalSteps
        super.init(optimizer: optimizer)
        start()
    }

    public override func learningRates(current: [Double]) -> [Double] {
        if lastEpoch == 0 { return current.map { $0 * factor } }
        if lastEpoch != totalSteps { return current }
        return current.map { $0 * (1 / factor) }
    }
}

/// Decays the learning rate to 0 over `totalSteps` steps along a polynomial (torch's
/// `PolynomialLR`): γ·(1 − min(epoch, total) / total)^power. Defaults as torch: linear, 5 steps.
public final class PolynomialLR: LRScheduler {
    /// The number of steps to reach 0 (torch's 5).
    public let totalSteps: Int
    /// The power of the polynomial (torch's 1, a straight line).
    public let power: Double

    /// Creates the scheduler.
    public init(optimizer: Optimizer, totalSteps: Int = 5, power: Double = 1) {
        require(totalSteps > 0, "PolynomialLR: totalSteps must be positive, got \(totalSteps)")
        self.totalSteps = totalSteps
        self.power = power
        super.init(optimizer: optimizer)
        start()
    }

    public override func learningRates(current: [Double]) -> [Double] {
        if lastEpoch == 0 || lastEpoch > totalSteps { return current }
        let total = Double(totalSteps), epoch = Double(lastEpoch)
        let decay = pow((1 - epoch / total) / (1 - (epoch - 1) / total), power)
        return current.map { $0 * decay }
    }
}

/// Cosine annealing with warm restarts (SGDR; torch's `CosineAnnealingWarmRestarts`): within a
/// period of T_i steps the rate is η_min + (γ − η_min)·(1 + cos(π·T_cur / T_i)) / 2; at the end
/// of a period T_cur goes back to 0 and the next period is `periodMultiplier` times longer.
public final class CosineAnnealingWarmRestarts: LRScheduler {
    /// T_0, the length of the first period in steps.
    public let firstPeriod: Int
    /// T_mult, the factor by which each period is longer than the previous one (torch's 1).
    public let periodMultiplier: Int
    /// η_min, the lowest rate (torch's 0).
    public let minimumLearningRate: Double
    /// T_cur, the steps since the last restart.
    public private(set) var stepsSinceRestart = 0
    /// T_i, the length of the current period.
    public private(set) var period: Int

    /// Creates the scheduler.
    public init(optimizer: Optimizer, firstPeriod: Int, periodMultiplier: Int = 1, minimumLearningRate: Double = 0) {
        require(firstPeriod > 0, "CosineAnnealingWarmRestarts: firstPeriod must be positive, got \(firstPeriod)")
        require(periodMultiplier >= 1,
                "CosineAnnealingWarmRestarts: periodMultiplier must be at least 1, got \(periodMultiplier)")
        self.firstPeriod = firstPeriod
        self.periodMultiplier = periodMultiplier
        self.minimumLearningRate = minimumLearningRate
        period = firstPeriod
        super.init(optimizer: optimizer)
        start()
    }

    public override func learningRates(current: [Double]) -> [Double] {
        if lastEpoch == 0 {
            stepsSinceRestart = 0
            period = firstPeriod
        } else {
            stepsSinceRestart += 1
            if stepsSinceRestart >= period {
                stepsSinceRestart -= period
                period *= periodMultiplier
            }
        }
        let phase = Double.pi * Double(stepsSinceRestart) / Double(period)
        return baseLearningRates.map { minimumLearningRate + ($0 - minimumLearningRate) * (1 + cos(phase)) / 2 }
    }

    /// The position (`last_epoch`, the base rates, `T_cur` and `T_i`), for checkpoints.
    public override func stateDict() -> StateDict {
        var state = super.stateDict()
        state["T_cur"] = Tensor(scalar: Int64(stepsSinceRestart))
        state["T_i"] = Tensor(scalar: Int64(period))
        return state
    }

    /// Restores the position saved by ``stateDict()``.
    public override func loadStateDict(_ state: StateDict) throws {
        let current = try state.counter("T_cur"), length = try state.counter("T_i")
        guard length >= 1, current < length else {
            throw StateDictError.incompatible("'T_cur' \(current) and 'T_i' \(length) are not a position in a period")
        }
        try super.loadStateDict(state)
        stepsSinceRestart = current
        period = length
    }
}

/// A learning rate that cycles between two bounds (torch's `CyclicLR`, for stepping after every
/// batch): it rises from `baseLearningRate` to `maximumLearningRate` over `stepSizeUp` steps,
/// falls back over `stepSizeDown`, and the amplitude is scaled per cycle (``Mode/triangular2``
/// halves it) or per step (``Mode/exponentialRange`` multiplies it by `gamma` each step). The
/// momentum (SGD's momentum, Adam's β₁) moves the opposite way between `maximumMomentum` and
/// `baseMomentum`.
///
/// As torch, creating it sets the groups' rates to `baseLearningRate` (and the momentum to
/// `maximumMomentum`); defaults as torch: 2000 steps up, as many down, momentum 0.8–0.9.
public final class CyclicLR: LRScheduler {
    /// How the amplitude of a cycle is scaled.
    public enum Mode: Sendable {
        /// The same amplitude every cycle.
        case triangular
        /// The amplitude halves each cycle.
        case triangular2
        /// The amplitude is multiplied by `gamma` every step (gamma^step).
        case exponentialRange
    }

    /// Whether a custom scale function takes the cycle number or the step number.
    public enum ScaleMode: Sendable {
        /// The cycle number, from 1.
        case cycle
        /// The number of steps so far.
        case iterations
    }

    /// The lower bound of the rate, per group.
    public let minimumRates: [Double]
    /// The upper bound of the rate, per group (reached only where the scale is 1).
    public let maximumRates: [Double]
    /// The number of steps from the lower bound to the upper one.
    public let stepSizeUp: Int
    /// The number of steps back down.
    public let stepSizeDown: Int
    /// Whether the momentum is cycled.
    public let cycleMomentum: Bool
    /// The momentum at the top of the rate (torch's 0.8).
    public let baseMomentum: Double
    /// The momentum at the bottom of the rate (torch's 0.9).
    public let maximumMomentum: Double
    private let scale: (Double) -> Double
    private let scaleMode: ScaleMode

    /// Creates the scheduler.
    ///
    /// - Parameters:
    ///   - baseLearningRate, maximumLearningRate: the bounds (one pair for every group).
    ///   - stepSizeUp: steps of the rising half (torch's 2000); `stepSizeDown`: of the falling
    ///     half (the same as `stepSizeUp` when nil).
    ///   - mode: the amplitude policy (torch's `triangular`); `gamma` is the factor of
    ///     ``Mode/exponentialRange`` (torch's 1).
    ///   - scale: a custom amplitude function of the cycle or step number (per `scaleMode`);
    ///     it replaces `mode`, as torch's `scale_fn`.
    ///   - cycleMomentum: cycle the momentum too (`true`; needs an optimizer with a momentum).
    public init(optimizer: Optimizer, baseLearningRate: Double, maximumLearningRate: Double, stepSizeUp: Int = 2000,
                stepSizeDown: Int? = nil, mode: Mode = .triangular, gamma: Double = 1,
                scale: ((Double) -> Double)? = nil, scaleMode: ScaleMode = .cycle, cycleMomentum: Bool = true,
                baseMomentum: Double = 0.8, maximumMomentum: Double = 0.9) {
        require(stepSizeUp > 0, "CyclicLR: stepSizeUp must be positive, got \(stepSizeUp)")
        require((stepSizeDown ?? 1) > 0, "CyclicLR: stepSizeDown must be positive, got \(stepSizeDown ?? 0)")
        require(!cycleMomentum || optimizer.schedulableMomentum != nil,
                "CyclicLR: \(type(of: optimizer)) has no momentum to cycle; pass cycleMomentum: false")
        let groups = optimizer.parameterGroups.count
        minimumRates = Array(repeating: baseLearningRate, count: groups)
        maximumRates = Array(repeating: maximumLearningRate, count: groups)
        self.stepSizeUp = stepSizeUp
        self.stepSizeDown = stepSizeDown ?? stepSizeUp
        self.cycleMomentum = cycleMomentum
        self.baseMomentum = baseMomentum
        self.maximumMomentum = maximumMomentum
        if let scale {
            self.scale = scale
            self.scaleMode = scaleMode
        } else {
            switch mode {
            case .triangular: self.scale = { _ in 1 }; self.scaleMode = .cycle
            case .triangular2: self.scale = { 1 / pow(2, $0 - 1) }; self.scaleMode = .cycle
            case .exponentialRange: self.scale = { pow(gamma, $0) }; self.scaleMode = .iterations
            }
        }
        for g in 0..<groups { optimizer.parameterGroups[g].learningRate = baseLearningRate }
        super.init(optimizer: optimizer)
        if cycleMomentum { optimizer.schedulableMomentum = maximumMomentum }
        start()
    }

    public override func learningRates(current: [Double]) -> [Double] {
        let total = Double(stepSizeUp + stepSizeDown), ratio = Double(stepSizeUp) / total
        let epoch = Double(lastEpoch)
        let cycle = (1 + epoch / total).rounded(.down)
        let x = 1 + epoch / total - cycle
        let factor = x <= ratio ? x / ratio : (x - 1) / (ratio - 1)
        let amplitude = scale(scaleMode == .cycle ? cycle : epoch)
        if cycleMomentum {
            optimizer.schedulableMomentum = maximumMomentum - (maximumMomentum - baseMomentum) * factor * amplitude
        }
        return zip(baseLearningRates, maximumRates).map { base, top in base + (top - base) * factor * amplitude }
    }
}

/// Runs one scheduler after another, switching at the milestones (torch's `SequentialLR`):
/// `schedulers[i]` steps from `milestones[i − 1]` on, starting its own schedule from its epoch 0
/// there. The usual case is a warm-up then a decay:
///
/// ```swift
/// SequentialLR(optimizer: optimizer, schedulers: [
///     LinearLR(optimizer: optimizer, startFactor: 0.1, totalSteps: 5),
///     CosineAnnealingLR(optimizer: optimizer, maximumEpochs: 95),
/// ], milestones: [5])
/// ```
///
/// The schedulers must be made for this optimizer just before, in order. As torch's
/// `initial_lr`, every one takes as its base rates those of the first (the rates before any of
/// them changed them), and the rates are reset to those before the first starts.
public final class SequentialLR: LRScheduler {
    /// The schedulers in the order they run.
    public let schedulers: [LRScheduler]
    /// The steps at which the next scheduler takes over (one fewer than the schedulers).
    public let milestones: [Int]

    /// Creates the scheduler.
    public init(optimizer: Optimizer, schedulers: [LRScheduler], milestones: [Int]) {
        require(!schedulers.isEmpty, "SequentialLR: needs at least one scheduler")
        require(milestones.count == schedulers.count - 1,
                "SequentialLR: \(schedulers.count) schedulers need \(schedulers.count - 1) milestones, got \(milestones.count)")
        require(zip(milestones, milestones.dropFirst()).allSatisfy { $0 < $1 } && milestones.allSatisfy { $0 > 0 },
                "SequentialLR: milestones must be positive and increasing, got \(milestones)")
        for (i, scheduler) in schedulers.enumerated() {
            require(scheduler.optimizer === optimizer,
                    "SequentialLR: scheduler \(i) (\(type(of: scheduler))) is for another optimizer")
        }
        self.schedulers = schedulers
        self.milestones = milestones
        super.init(optimizer: optimizer)
        let bases = schedulers[0].baseLearningRates
        baseLearningRates = bases
        for scheduler in schedulers {
            scheduler.baseLearningRates = bases
            scheduler.lastEpoch = -1
        }
        for (g, rate) in bases.enumerated() { optimizer.parameterGroups[g].learningRate = rate }
        schedulers[0].step()
        learningRates = schedulers[0].learningRates
    }

    /// Steps the scheduler whose turn it is; at a milestone the next one starts from its epoch 0.
    public override func step() {
        lastEpoch += 1
        let index = milestones.filter { $0 <= lastEpoch }.count
        let scheduler = schedulers[index]
        if index > 0 && milestones[index - 1] == lastEpoch {
            scheduler.restart()
        } else {
            scheduler.step()
        }
        learningRates = scheduler.learningRates
    }

    /// The position of this scheduler and of every one it runs (`schedulers.<i>.<key>`).
    public override func stateDict() -> StateDict { withChildStates(super.stateDict(), schedulers) }

    /// Restores the position saved by ``stateDict()``.
    public override func loadStateDict(_ state: StateDict) throws {
        try loadChildStates(state, schedulers)
        try super.loadStateDict(state)
    }
}

/// Steps several schedulers together, each multiplying its change into the rate (torch's
/// `ChainedScheduler`), e.g. a constant warm-up factor on top of an exponential decay.
///
/// The schedulers must be made for one optimizer just before, in order; as in
/// ``SequentialLR``, every one takes the first one's base rates (torch's `initial_lr`).
public final class ChainedScheduler: LRScheduler {
    /// The schedulers, stepped in this order.
    public let schedulers: [LRScheduler]

    /// Creates the scheduler; the optimizer is the schedulers' own.
    public init(schedulers: [LRScheduler]) {
        require(!schedulers.isEmpty, "ChainedScheduler: needs at least one scheduler")
        let optimizer = schedulers[0].optimizer
        for (i, scheduler) in schedulers.enumerated() {
            require(scheduler.optimizer === optimizer,
                    "ChainedScheduler: scheduler \(i) (\(type(of: scheduler))) is for another optimizer than scheduler 0")
        }
        self.schedulers = schedulers
        let bases = schedulers[0].baseLearningRates
        super.init(optimizer: optimizer)
        baseLearningRates = bases
        for scheduler in schedulers { scheduler.baseLearningRates = bases }
    }

    /// Steps every scheduler once.
    public override func step() {
        lastEpoch += 1
        for scheduler in schedulers { scheduler.step() }
        learningRates = optimizer.parameterGroups.map(\.learningRate)
    }

    /// The position of this scheduler and of every one it runs (`schedulers.<i>.<key>`).
    public override func stateDict() -> StateDict { withChildStates(super.stateDict(), schedulers) }

    /// Restores the position saved by ``stateDict()``.
    public override func loadStateDict(_ state: StateDict) throws {
        try loadChildStates(state, schedulers)
        try super.loadStateDict(state)
    }
}

/// `state` with the state of each of `children` under `schedulers.<i>.`.
private func withChildStates(_ state: StateDict, _ children: [LRScheduler]) -> StateDict {
    var state = state
    for (i, child) in children.enumerated() {
        for (key, tensor) in child.stateDict() { state["schedulers.\(i).\(key)"] = tensor }
    }
    return state
}

/// Restores each of `children` from its entries under `schedulers.<i>.` of `state`.
private func loadChildStates(_ state: StateDict, _ children: [LRScheduler]) throws {
    for (i, child) in children.enumerated() { try child.loadStateDict(state.scoped(to: "schedulers.\(i)")) }
}

/// The learning rate of stochastic weight averaging (torch's `SWALR`): from the groups' rate
/// to `swaLearningRate` over `annealEpochs` steps (cosine or linear), then constant.
public final class SWALR: LRScheduler {
    /// How the rate moves from its start to the SWA rate.
    public enum Annealing: Sendable {
        /// Along (1 − cos(π·t)) / 2.
        case cosine
        /// In a straight line.
        case linear
    }

    /// The rate SWA trains at, per group.
    public let swaLearningRates: [Double]
    /// The number of steps of the annealing (torch's 10; 0 jumps to the SWA rate).
    public let annealEpochs: Int
    /// The shape of the annealing (torch's cosine).
    public let annealing: Annealing

    /// Creates the scheduler.
    public init(optimizer: Optimizer, swaLearningRate: Double, annealEpochs: Int = 10, annealing: Annealing = .cosine) {
        require(swaLearningRate >= 0, "SWALR: invalid swaLearningRate \(swaLearningRate)")
        require(annealEpochs >= 0, "SWALR: annealEpochs must not be negative, got \(annealEpochs)")
        swaLearningRates = Array(repeating: swaLearningRate, count: optimizer.parameterGroups.count)
        self.annealEpochs = annealEpochs
        self.annealing = annealing
        super.init(optimizer: optimizer)
        start()
    }

    private func shape(_ t: Double) -> Double {
        annealing == .cosine ? (1 - cos(Double.pi * t)) / 2 : t
    }

    public override func learningRates(current: [Double]) -> [Double] {
        // torch's recursive form: the rate of the previous step is undone to find the start.
        let step = annealEpochs == 0 ? Swift.max(1, lastEpoch) : lastEpoch
        let span = Double(Swift.max(1, annealEpochs))
        let previous = shape(Swift.max(0, Swift.min(1, Double(step - 1) / span)))
        let alpha = shape(Swift.max(0, Swift.min(1, Double(step) / span)))
        return zip(current, swaLearningRates).map { rate, swa in
            let start = previous == 1 ? swa : (rate - previous * swa) / (1 - previous)
            return swa * alpha + start * (1 - alpha)
        }
    }
}
