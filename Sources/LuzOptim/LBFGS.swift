import Foundation
import LuzSerialization
import LuzTensor

/// L-BFGS, the limited-memory quasi-Newton method (torch's `optim.LBFGS`, same defaults:
/// learning rate 1, 20 iterations per step, at most `maxIterations·5/4` loss evaluations,
/// gradient tolerance 1e-7, change tolerance 1e-9, a history of 100 pairs, no line search).
///
/// Each ``step(_:)`` runs up to ``maxIterations`` iterations on the flattened parameter vector
/// x with gradient g, calling the closure again whenever it needs the loss somewhere new:
/// ```
/// d ← −g                                  (first iteration ever)
/// d ← −H·g                                (after: two-loop recursion over the pairs (s, y),
///                                          H₀ = sᵀy / yᵀy, a pair kept only when sᵀy > 1e-10)
/// t ← min(1, 1/‖g‖₁)·γ  on the first iteration ever, γ after
/// t ← strong-Wolfe line search from t     (with `lineSearch: .strongWolfe`)
/// x ← x + t·d;   s ← t·d;   y ← g_new − g
/// ```
/// and stops early when ‖g‖∞ ≤ ``gradientTolerance``, when ‖t·d‖∞ or the change of the loss
/// falls under ``changeTolerance``, or after ``maxEvaluations`` evaluations.
///
/// ```swift
/// let optimizer = LBFGS(model.parameters(), lineSearch: .strongWolfe)
/// for _ in 0..<20 {
///     optimizer.step {
///         optimizer.zeroGrad()
///         let loss = mseLoss(model(x), y)
///         loss.backward()
///         return loss.item
///     }
/// }
/// ```
///
/// As in torch there is one parameter group, and the state (the history, the last direction
/// and step, the counters) belongs to the optimizer as a whole; ``stateDict()`` saves it under
/// the first parameter (`state.0.old_dirs`, …), with torch's names. The arithmetic runs in
/// `Double` whatever the parameters' type.
public final class LBFGS: Optimizer {
    /// The line searches L-BFGS can run along each direction.
    public enum LineSearch: Sendable {
        /// A search for a step that satisfies the strong Wolfe conditions (sufficient decrease
        /// with c₁ = 1e-4, curvature with c₂ = 0.9), by bracketing and cubic interpolation
        /// (torch's `line_search_fn="strong_wolfe"`).
        case strongWolfe
    }

    /// The most iterations one ``step(_:)`` runs (torch's `max_iter`).
    public var maxIterations: Int
    /// The most loss evaluations one ``step(_:)`` makes (torch's `max_eval`).
    public var maxEvaluations: Int
    /// A step ends when the largest gradient element is at most this (torch's `tolerance_grad`).
    public var gradientTolerance: Double
    /// A step ends when the update or the change of the loss falls under this (torch's
    /// `tolerance_change`).
    public var changeTolerance: Double
    /// How many (step, gradient change) pairs approximate the inverse Hessian (torch's
    /// `history_size`).
    public var historySize: Int
    /// The line search, or `nil` for fixed steps of the learning rate (torch's `line_search_fn`).
    public var lineSearch: LineSearch?

    /// The loss evaluations so far, over every step (torch's `func_evals`).
    public private(set) var functionEvaluations = 0
    /// The iterations so far, over every step (torch's `n_iter`).
    public private(set) var iterations = 0

    // The state torch keeps under the same names (see `stateDict()`): the last direction `d`
    // and step length `t`, the history `old_stps` (s), `old_dirs` (y) and `ro` (1 / yᵀs), the
    // initial inverse-Hessian scale `H_diag`, the gradient and loss where the last iteration
    // started. `nil` until the first iteration.
    private var direction: [Double]?
    private var stepLength = 0.0
    private var stepHistory: [[Double]] = []
    private var gradientChangeHistory: [[Double]] = []
    private var curvatureReciprocals: [Double] = []
    private var inverseHessianScale = 1.0
    private var previousGradient: [Double] = []
    private var previousLoss = 0.0

    /// The number of elements of all parameters together: the length of the flattened vectors.
    private let flatCount: Int

    /// Creates the optimizer over `parameters`.
    ///
    /// - Parameters:
    ///   - learningRate: γ, the step length before any line search (torch: 1).
    ///   - maxIterations: iterations per ``step(_:)`` (torch: 20).
    ///   - maxEvaluations: loss evaluations per ``step(_:)``; `nil` for `maxIterations·5/4`
    ///     rounded down (torch's rule).
    ///   - gradientTolerance: torch's `tolerance_grad` (1e-7).
    ///   - changeTolerance: torch's `tolerance_change` (1e-9).
    ///   - historySize: pairs kept (torch: 100).
    ///   - lineSearch: `nil` (torch's default) or ``LineSearch/strongWolfe``.
    public convenience init(_ parameters: [Tensor], learningRate: Double = 1, maxIterations: Int = 20,
                            maxEvaluations: Int? = nil, gradientTolerance: Double = 1e-7,
                            changeTolerance: Double = 1e-9, historySize: Int = 100, lineSearch: LineSearch? = nil) {
        self.init(groups: [ParameterGroup(parameters)], learningRate: learningRate, maxIterations: maxIterations,
                  maxEvaluations: maxEvaluations, gradientTolerance: gradientTolerance,
                  changeTolerance: changeTolerance, historySize: historySize, lineSearch: lineSearch)
    }

    /// Creates the optimizer over exactly one parameter group (torch refuses per-parameter
    /// options for L-BFGS); the parameters are as in ``init(_:learningRate:maxIterations:maxEvaluations:gradientTolerance:changeTolerance:historySize:lineSearch:)``.
    public init(groups: [ParameterGroup], learningRate: Double = 1, maxIterations: Int = 20,
                maxEvaluations: Int? = nil, gradientTolerance: Double = 1e-7,
                changeTolerance: Double = 1e-9, historySize: Int = 100, lineSearch: LineSearch? = nil) {
        require(groups.count == 1, "LBFGS: one parameter group only (torch's rule), got \(groups.count)")
        require(maxIterations >= 1, "LBFGS: maxIterations must be at least 1, got \(maxIterations)")
        let evaluations = maxEvaluations ?? maxIterations * 5 / 4
        require(evaluations >= 1, "LBFGS: maxEvaluations must be at least 1, got \(evaluations)")
        require(gradientTolerance >= 0, "LBFGS: invalid gradient tolerance \(gradientTolerance)")
        require(changeTolerance >= 0, "LBFGS: invalid change tolerance \(changeTolerance)")
        require(historySize >= 1, "LBFGS: historySize must be at least 1, got \(historySize)")
        self.maxIterations = maxIterations
        self.maxEvaluations = evaluations
        self.gradientTolerance = gradientTolerance
        self.changeTolerance = changeTolerance
        self.historySize = historySize
        self.lineSearch = lineSearch
        flatCount = groups.reduce(0) { $0 + $1.parameters.reduce(0) { $0 + $1.count } }
        super.init(groups: groups, defaultLearningRate: learningRate)
    }

    /// Creates the optimizer with torch's defaults (learning rate 1).
    public required convenience init(groups: [ParameterGroup]) {
        self.init(groups: groups, learningRate: 1)
    }

    /// `true`: each step evaluates the loss up to ``maxEvaluations`` times.
    public override var reevaluatesLoss: Bool { true }

    /// L-BFGS needs to evaluate the loss several times per step: use ``step(_:)``.
    public override func step() {
        require(false, "LBFGS: step() needs a closure that clears the gradients, computes the loss, runs backward and returns the loss: call step { … }")
    }

    /// Runs up to ``maxIterations`` L-BFGS iterations and returns the loss of the first
    /// evaluation (torch returns the same).
    ///
    /// - Parameter closure: clears the gradients, computes the loss at the current parameters,
    ///   runs `backward()` and returns the loss value. It runs with gradient recording on, even
    ///   when `step` is called inside `withNoGrad` (as torch's `enable_grad` around the closure);
    ///   the updates of the parameters between evaluations are not recorded.
    @discardableResult
    public override func step(_ closure: () throws -> Double) rethrows -> Double {
        stepCount += 1
        if parameters.isEmpty { return try withGradMode(enabled: true, closure) }
        let firstLoss = try withGradMode(enabled: true, closure)
        var loss = firstLoss
        var evaluations = 1
        functionEvaluations += 1
        var gradient = flatGradient()
        var reachedTolerance = maximumMagnitude(gradient) <= gradientTolerance
        if reachedTolerance { return firstLoss }

        var iteration = 0
        while iteration < maxIterations {
            iteration += 1
            iterations += 1
            var d: [Double]
            if iterations == 1 {
                d = gradient.map { -$0 }
                stepHistory = []
                gradientChangeHistory = []
                curvatureReciprocals = []
                inverseHessianScale = 1
            } else {
                d = nextDirection(gradient: gradient)
            }
            previousGradient = gradient
            previousLoss = loss
            // The first step ever is scaled down by the gradient's size; later ones start at γ.
            var t = iterations == 1 ? min(1, 1 / sumOfMagnitudes(gradient)) * learningRate : learningRate
            direction = d
            stepLength = t
            let slope = dot(gradient, d)
            if slope > -changeTolerance { break }

            var searchEvaluations = 0
            if lineSearch == .strongWolfe {
                let start = parameters.map { parameter in withNoGrad { parameter.cloned() } }
                let found = try strongWolfeSearch({ length in
                    self.addToParameters(d, scaledBy: length)
                    let loss = try withGradMode(enabled: true, closure)
                    let gradient = self.flatGradient()
                    self.setParameters(start)
                    return (loss, gradient)
                }, from: t, direction: d, loss: loss, gradient: gradient, slope: slope,
                   maxSearches: maxEvaluations - evaluations)
                (loss, gradient, t, searchEvaluations) = (found.loss, found.gradient, found.step, found.evaluations)
                stepLength = t
                addToParameters(d, scaledBy: t)
                reachedTolerance = maximumMagnitude(gradient) <= gradientTolerance
            } else {
                addToParameters(d, scaledBy: t)
                // The last iteration leaves the evaluation at the new point to the next step.
                if iteration != maxIterations {
                    loss = try withGradMode(enabled: true, closure)
                    gradient = flatGradient()
                    reachedTolerance = maximumMagnitude(gradient) <= gradientTolerance
                    searchEvaluations = 1
                }
            }
            evaluations += searchEvaluations
            functionEvaluations += searchEvaluations

            if iteration == maxIterations || evaluations >= maxEvaluations || reachedTolerance { break }
            if d.reduce(0, { Swift.max($0, abs($1 * t)) }) <= changeTolerance { break }
            if abs(loss - previousLoss) < changeTolerance { break }
        }
        return firstLoss
    }

    /// The direction −H·g from the history, after adding the pair of the last iteration
    /// (the two-loop recursion).
    private func nextDirection(gradient: [Double]) -> [Double] {
        let lastDirection = direction ?? []
        let y = zip(gradient, previousGradient).map { $0 - $1 }
        let s = lastDirection.map { $0 * stepLength }
        let ys = dot(y, s)
        // A pair with too little curvature would make H indefinite: it is not kept.
        if ys > 1e-10 {
            if gradientChangeHistory.count == historySize {
                gradientChangeHistory.removeFirst()
                stepHistory.removeFirst()
                curvatureReciprocals.removeFirst()
            }
            gradientChangeHistory.append(y)
            stepHistory.append(s)
            curvatureReciprocals.append(1 / ys)
            inverseHessianScale = ys / dot(y, y)
        }
        let count = gradientChangeHistory.count
        var alphas = [Double](repeating: 0, count: count)
        var q = gradient.map { -$0 }
        for i in stride(from: count - 1, through: 0, by: -1) {
            alphas[i] = dot(stepHistory[i], q) * curvatureReciprocals[i]
            axpy(-alphas[i], gradientChangeHistory[i], &q)
        }
        var r = q.map { $0 * inverseHessianScale }
        for i in 0..<count {
            let beta = dot(gradientChangeHistory[i], r) * curvatureReciprocals[i]
            axpy(alphas[i] - beta, stepHistory[i], &r)
        }
        return r
    }

    // MARK: - Flattened parameters

    /// The gradients of all parameters in one vector (zeros for a parameter without one).
    private func flatGradient() -> [Double] {
        var flat: [Double] = []
        flat.reserveCapacity(flatCount)
        for parameter in parameters {
            if let gradient = parameter.grad {
                flat += gradient.doubles
            } else {
                flat += repeatElement(0, count: parameter.count)
            }
        }
        return flat
    }

    /// x ← x + length·vector, parameter by parameter, in the parameters' type (in `Double`
    /// exactly torch's `p.add_(d, alpha=t)`).
    private func addToParameters(_ vector: [Double], scaledBy length: Double) {
        var offset = 0
        for parameter in parameters {
            func add<T: TensorFloat>(_: T.Type) {
                parameter.withUnsafeMutableBufferPointer(as: T.self) { p in
                    for i in 0..<p.count { p[i] += T(length * vector[offset + i]) }
                }
            }
            if parameter.dtype == .float64 { add(Double.self) } else { add(Float.self) }
            offset += parameter.count
        }
    }

    /// Copies `values` (one tensor per parameter) into the parameters.
    private func setParameters(_ values: [Tensor]) {
        withNoGrad {
            for (parameter, value) in zip(parameters, values) { parameter.copy(from: value) }
        }
    }

    // MARK: - Hyper-parameters

    /// `maxIterations`, `maxEvaluations`, `gradientTolerance`, `changeTolerance`, `historySize`
    /// and `lineSearch` (1 for strong Wolfe, 0 for none).
    public override class var hyperparameterTable: [OptimizerHyperparameter] {
        [.count("maxIterations", \LBFGS.maxIterations), .count("maxEvaluations", \LBFGS.maxEvaluations),
         .number("gradientTolerance", \LBFGS.gradientTolerance, .nonNegative),
         .number("changeTolerance", \LBFGS.changeTolerance, .nonNegative),
         .count("historySize", \LBFGS.historySize),
         .custom("lineSearch", .flag, read: { (optimizer: LBFGS) in optimizer.lineSearch == nil ? 0 : 1 },
                 write: { optimizer, value in optimizer.lineSearch = value != 0 ? .strongWolfe : nil })]
    }

    // MARK: - State

    /// The saved state: torch's entries, under the first parameter.
    private struct SavedState {
        var functionEvaluations = 0
        var iterations = 0
        var direction: [Double]?
        var stepLength = 0.0
        var stepHistory: [[Double]] = []
        var gradientChangeHistory: [[Double]] = []
        var curvatureReciprocals: [Double] = []
        var inverseHessianScale = 1.0
        var previousGradient: [Double] = []
        var previousLoss = 0.0
    }

    /// The whole optimizer's state at index 0 (empty before the first step), nothing at the
    /// others: `func_evals`, `n_iter`, and once an iteration has run `d`, `t`, `H_diag`,
    /// `prev_flat_grad`, `prev_loss`, `history_count` and, for a non-empty history, `old_dirs`
    /// and `old_stps` (`[history_count, n]`) and `ro` (`[history_count]`), in float64.
    public override func parameterState(at index: Int) -> [(name: String, tensor: Tensor)] {
        guard index == 0, stepCount > 0 else { return [] }
        var entries: [(name: String, tensor: Tensor)] = [
            ("func_evals", Tensor(scalar: Int64(functionEvaluations))),
            ("n_iter", Tensor(scalar: Int64(iterations))),
        ]
        guard let direction else { return entries }
        let count = stepHistory.count
        entries += [
            ("d", Tensor(direction, shape: [flatCount])),
            ("t", Tensor(scalar: stepLength)),
            ("H_diag", Tensor(scalar: inverseHessianScale)),
            ("prev_flat_grad", Tensor(previousGradient, shape: [flatCount])),
            ("prev_loss", Tensor(scalar: previousLoss)),
            ("history_count", Tensor(scalar: Int64(count))),
        ]
        if count > 0 {
            entries += [
                ("old_dirs", Tensor(gradientChangeHistory.flatMap { $0 }, shape: [count, flatCount])),
                ("old_stps", Tensor(stepHistory.flatMap { $0 }, shape: [count, flatCount])),
                ("ro", Tensor(curvatureReciprocals, shape: [count])),
            ]
        }
        return entries
    }

    // The base checks every entry against the parameter's shape; here index 0 holds vectors
    // over all parameters and histories, so the whole decoding is the check.
    override func validateParameterState(_ entries: StateDict, at index: Int) throws {
        _ = try decodeState(entries, at: index)
    }

    /// Restores the optimizer's state from the entries ``parameterState(at:)`` saved at index 0
    /// (an empty set clears it); the other indices hold nothing.
    ///
    /// - Throws: ``StateDictError`` for an unknown entry, a shape that does not fit the
    ///   parameters or the history count, a value that is not finite, or iteration entries
    ///   without an iteration.
    public override func restoreParameterState(_ entries: StateDict, at index: Int) throws {
        guard index == 0 else { return }
        let saved = try decodeState(entries, at: index) ?? SavedState()
        functionEvaluations = saved.functionEvaluations
        iterations = saved.iterations
        direction = saved.direction
        stepLength = saved.stepLength
        stepHistory = saved.stepHistory
        gradientChangeHistory = saved.gradientChangeHistory
        curvatureReciprocals = saved.curvatureReciprocals
        inverseHessianScale = saved.inverseHessianScale
        previousGradient = saved.previousGradient
        previousLoss = saved.previousLoss
    }

    /// The state in `entries`, `nil` for none, checked entry by entry: known names, shapes
    /// that fit the parameters and the history count, finite values, and either all of the
    /// iteration entries (after an iteration, `n_iter` > 0) or none.
    private func decodeState(_ entries: StateDict, at index: Int) throws -> SavedState? {
        let key = { (name: String) in "state.\(index).\(name)" }
        if index != 0 {
            if let name = entries.keys.first { throw StateDictError.unexpectedKey(key(name)) }
            return nil
        }
        if entries.isEmpty { return nil }
        let known: Set<String> = ["func_evals", "n_iter", "d", "t", "H_diag", "prev_flat_grad", "prev_loss",
                                  "history_count", "old_dirs", "old_stps", "ro"]
        for (name, tensor) in entries {
            guard known.contains(name) else { throw StateDictError.unexpectedKey(key(name)) }
            if !tensor.doubles.allSatisfy(\.isFinite) {
                throw StateDictError.incompatible("'\(key(name))' holds values that are not finite")
            }
        }
        func entry(_ name: String) throws -> Tensor { try requiredEntry(entries, name, index: index) }
        func vector(_ name: String, shape: [Int]) throws -> [Double] {
            let tensor = try entry(name)
            guard tensor.shape == shape else { throw StateDictError.shapeMismatch(key: key(name), expected: shape, found: tensor.shape) }
            return tensor.doubles
        }
        func scalar(_ name: String) throws -> Double { try StateDict.scalar(of: entry(name), key: key(name)) }
        func counter(_ name: String) throws -> Int { try StateDict.counter(of: entry(name), key: key(name)) }

        var saved = SavedState()
        saved.functionEvaluations = try counter("func_evals")
        saved.iterations = try counter("n_iter")
        let iterationEntries = ["d", "t", "H_diag", "prev_flat_grad", "prev_loss", "history_count"]
        guard saved.iterations > 0 else {
            if let name = iterationEntries.first(where: { entries[$0] != nil }) {
                throw StateDictError.incompatible("'\(key(name))' is saved but 'n_iter' is 0")
            }
            return saved
        }
        saved.direction = try vector("d", shape: [flatCount])
        saved.stepLength = try scalar("t")
        saved.inverseHessianScale = try scalar("H_diag")
        saved.previousGradient = try vector("prev_flat_grad", shape: [flatCount])
        saved.previousLoss = try scalar("prev_loss")
        let count = try counter("history_count")
        if count == 0 {
            if let name = ["old_dirs", "old_stps", "ro"].first(where: { entries[$0] != nil }) {
                throw StateDictError.incompatible("'\(key(name))' is saved but 'history_count' is 0")
            }
        } else {
            guard count <= saved.iterations else {
                throw StateDictError.incompatible("'\(key("history_count"))' is \(count), more than the \(saved.iterations) iterations")
            }
            let changes = try vector("old_dirs", shape: [count, flatCount])
            let steps = try vector("old_stps", shape: [count, flatCount])
            saved.curvatureReciprocals = try vector("ro", shape: [count])
            saved.gradientChangeHistory = (0..<count).map { Array(changes[($0 * flatCount)..<(($0 + 1) * flatCount)]) }
            saved.stepHistory = (0..<count).map { Array(steps[($0 * flatCount)..<(($0 + 1) * flatCount)]) }
        }
        return saved
    }
}

// MARK: - Strong-Wolfe line search

/// The strong-Wolfe curvature constants torch uses.
private let sufficientDecrease = 1e-4, curvature = 0.9
/// The bracket width (times ‖d‖∞) under which the search stops: torch passes no tolerance to
/// its line search, so it is always the default 1e-9, whatever the optimizer's.
private let bracketTolerance = 1e-9

/// A step length t along `direction` with
/// `f(x + t·d) ≤ f(x) + c₁·t·gᵀd` and `|g(x + t·d)ᵀd| ≤ −c₂·gᵀd`,
/// found as torch's `_strong_wolfe` does: grow the step by cubic extrapolation until a bracket
/// holds a minimum, then shrink the bracket by cubic interpolation ("zoom"), keeping each trial
/// at least a tenth of the bracket away from its ends.
///
/// Returns the loss, gradient and length of the best point and the number of evaluations.
private func strongWolfeSearch(
    _ evaluate: (Double) throws -> (loss: Double, gradient: [Double]), from initialStep: Double,
    direction d: [Double], loss f: Double, gradient g: [Double], slope gtd: Double, maxSearches: Int
) rethrows -> (loss: Double, gradient: [Double], step: Double, evaluations: Int) {
    let directionSize = maximumMagnitude(d)
    var t = initialStep
    var (newLoss, newGradient) = try evaluate(t)
    var evaluations = 1
    var newSlope = dot(newGradient, d)
    var (previousStep, previousLoss, previousGradient, previousSlope) = (0.0, f, g, gtd)

    // The bracket: one point (a step that satisfies both conditions) or two around a minimum.
    var steps: [Double] = [], losses: [Double] = [], gradients: [[Double]] = [], slopes: [Double] = []
    var done = false
    var searches = 0
    var bracketed = false
    while searches < maxSearches {
        // Too high, or rising: a minimum lies between the last two trials. (The order of the
        // three tests is torch's: a step that satisfies both conditions while the slope turns
        // positive is taken as it is.)
        let bracketsMinimum = newLoss > f + sufficientDecrease * t * gtd || (searches > 1 && newLoss >= previousLoss)
        if !bracketsMinimum && abs(newSlope) <= -curvature * gtd {
            (steps, losses, gradients) = ([t], [newLoss], [newGradient])
            done = true
            bracketed = true
            break
        }
        if bracketsMinimum || newSlope >= 0 {
            (steps, losses, gradients, slopes) = ([previousStep, t], [previousLoss, newLoss],
                                                  [previousGradient, newGradient], [previousSlope, newSlope])
            bracketed = true
            break
        }
        let extrapolated = cubicMinimum(previousStep, previousLoss, previousSlope, t, newLoss, newSlope,
                                        bounds: (t + 0.01 * (t - previousStep), t * 10))
        (previousStep, previousLoss, previousGradient, previousSlope) = (t, newLoss, newGradient, newSlope)
        t = extrapolated
        (newLoss, newGradient) = try evaluate(t)
        evaluations += 1
        newSlope = dot(newGradient, d)
        searches += 1
    }
    if !bracketed {
        // Out of evaluations while still extrapolating: choose between the start and the last trial.
        (steps, losses, gradients, slopes) = ([0, t], [f, newLoss], [g, newGradient], [gtd, newSlope])
    }

    var insufficientProgress = false
    var (low, high) = losses[0] <= losses[losses.count - 1] ? (0, 1) : (1, 0)
    while !done && searches < maxSearches {
        if abs(steps[1] - steps[0]) * directionSize < bracketTolerance { break }
        t = cubicMinimum(steps[0], losses[0], slopes[0], steps[1], losses[1], slopes[1])
        // A trial too close to an end makes little progress: move it a tenth of the bracket in
        // (at once if it fell on or outside an end, else on the second such trial in a row).
        let upper = max(steps[0], steps[1]), lower = min(steps[0], steps[1])
        let margin = 0.1 * (upper - lower)
        if min(upper - t, t - lower) < margin {
            if insufficientProgress || t >= upper || t <= lower {
                t = abs(t - upper) < abs(t - lower) ? upper - margin : lower + margin
                insufficientProgress = false
            } else {
                insufficientProgress = true
            }
        } else {
            insufficientProgress = false
        }
        (newLoss, newGradient) = try evaluate(t)
        evaluations += 1
        newSlope = dot(newGradient, d)
        searches += 1

        if newLoss > f + sufficientDecrease * t * gtd || newLoss >= losses[low] {
            (steps[high], losses[high], gradients[high], slopes[high]) = (t, newLoss, newGradient, newSlope)
            (low, high) = losses[0] <= losses[1] ? (0, 1) : (1, 0)
        } else {
            if abs(newSlope) <= -curvature * gtd {
                done = true
            } else if newSlope * (steps[high] - steps[low]) >= 0 {
                (steps[high], losses[high], gradients[high], slopes[high]) =
                    (steps[low], losses[low], gradients[low], slopes[low])
            }
            (steps[low], losses[low], gradients[low], slopes[low]) = (t, newLoss, newGradient, newSlope)
        }
    }
    return (losses[low], gradients[low], steps[low], evaluations)
}

/// The minimizer of the cubic through (x₁, f₁) and (x₂, f₂) with slopes g₁ and g₂, clamped to
/// `bounds` (by default the interval between the points); the middle of the bounds when the
/// cubic has no minimum (torch's `_cubic_interpolate`):
/// ```
/// d₁ = g₁ + g₂ − 3(f₁ − f₂)/(x₁ − x₂);   d₂ = √(d₁² − g₁g₂)
/// x = x₂ − (x₂ − x₁)·(g₂ + d₂ − d₁)/(g₂ − g₁ + 2d₂)     (for x₁ ≤ x₂; symmetric otherwise)
/// ```
private func cubicMinimum(_ x1: Double, _ f1: Double, _ g1: Double, _ x2: Double, _ f2: Double, _ g2: Double,
                          bounds: (Double, Double)? = nil) -> Double {
    let (lower, upper) = bounds ?? (x1 <= x2 ? (x1, x2) : (x2, x1))
    let d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    let d2Square = d1 * d1 - g1 * g2
    guard d2Square >= 0 else { return (lower + upper) / 2 }
    let d2 = d2Square.squareRoot()
    let minimum = x1 <= x2
        ? x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        : x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(minimum, lower), upper)
}

// MARK: - Vector helpers

private func dot(_ a: [Double], _ b: [Double]) -> Double {
    var sum = 0.0
    for i in a.indices { sum += a[i] * b[i] }
    return sum
}

/// y ← y + a·x
private func axpy(_ a: Double, _ x: [Double], _ y: inout [Double]) {
    for i in y.indices { y[i] += a * x[i] }
}

private func maximumMagnitude(_ v: [Double]) -> Double { v.reduce(0) { max($0, abs($1)) } }

private func sumOfMagnitudes(_ v: [Double]) -> Double { v.reduce(0) { $0 + abs($1) } }
