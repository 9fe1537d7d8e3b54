import Foundation
import LuzSerialization
import LuzTensor

/// Adamax, Adam with the infinity norm (torch's `optim.Adamax`, same defaults: learning rate
/// 2e-3, β = (0.9, 0.999), ε = 1e-8, no weight decay).
///
/// For each parameter θ with gradient g, at its step t:
/// ```
/// g ← g + λ·θ
/// m ← β₁·m + (1 − β₁)·g
/// u ← max(β₂·u, |g| + ε)
/// θ ← θ − γ / (1 − β₁ᵗ) · m / u
/// ```
public final class Adamax: ElementwiseOptimizer {
    /// β₁, the decay of the gradient average.
    public var beta1: Double
    /// β₂, the decay of the infinity norm.
    public var beta2: Double
    /// ε, added to the norm.
    public var epsilon: Double
    /// The L2 penalty λ added to the gradient.
    public var weightDecay: Double

    /// Creates the optimizer over one group of parameters.
    public convenience init(_ parameters: [Tensor], learningRate: Double = 2e-3, betas: (Double, Double) = (0.9, 0.999),
                            epsilon: Double = 1e-8, weightDecay: Double = 0) {
        self.init(groups: [ParameterGroup(parameters)], learningRate: learningRate, betas: betas, epsilon: epsilon,
                  weightDecay: weightDecay)
    }

    /// Creates the optimizer over parameter groups; groups without a learning rate use `learningRate`.
    public init(groups: [ParameterGroup], learningRate: Double = 2e-3, betas: (Double, Double) = (0.9, 0.999),
                epsilon: Double = 1e-8, weightDecay: Double = 0) {
        (beta1, beta2, self.epsilon, self.weightDecay) = (betas.0, betas.1, epsilon, weightDecay)
        super.init(groups: groups, defaultLearningRate: learningRate, tensors: ["exp_avg", "exp_inf"])
    }

    /// Creates the optimizer with torch's defaults.
    public required convenience init(groups: [ParameterGroup]) {
        self.init(groups: groups, learningRate: 2e-3)
    }

    override var defaultWeightDecay: Double { weightDecay }

    public override class var hyperparameterTable: [OptimizerHyperparameter] {
        [.number("beta1", \Adamax.beta1, .unitInterval), .number("beta2", \Adamax.beta2, .unitInterval),
         .number("epsilon", \Adamax.epsilon, .nonNegative), .number("weightDecay", \Adamax.weightDecay, .nonNegative)]
    }

    override func update(_ parameter: inout ParameterUpdate) {
        parameter.apply(AdamaxRule(beta1: beta1, beta2: beta2, epsilon: epsilon, weightDecay: parameter.weightDecay,
                                   rate: parameter.learningRate / (1 - pow(beta1, Double(parameter.step)))))
    }

    public override var schedulableMomentum: Double? {
        get { beta1 }
        set { if let newValue { beta1 = newValue } }
    }
}

/// Adamax's update of one element (slots: exp_avg, exp_inf).
struct AdamaxRule: ElementwiseRule {
    let beta1, beta2, epsilon, weightDecay, rate: Double

    @inline(__always)
    func update<L: UpdateLane>(_ p: inout L, _ g: L, _ state: inout ElementwiseLanes<L>) {
        var g = g
        if weightDecay != 0 { g += L(weightDecay) * p }
        state.first += L(1 - beta1) * (g - state.first)
        state.second = L.lanewiseMaximum(state.second * L(beta2), g.lanewiseMagnitude + L(epsilon))
        p -= L(rate) * state.first / state.second
    }
}

/// NAdam, Adam with Nesterov momentum and momentum decay (torch's `optim.NAdam`, same defaults:
/// learning rate 2e-3, β = (0.9, 0.999), ε = 1e-8, no weight decay, momentum decay ψ = 4e-3).
///
/// For each parameter θ with gradient g, at its step t:
/// ```
/// g ← g + λ·θ                       (decoupled: θ ← θ·(1 − γλ) instead)
/// μₜ ← β₁·(1 − ½·0.96^(tψ)),  μₜ₊₁ likewise,  Π ← Π·μₜ
/// m ← β₁·m + (1 − β₁)·g;   v ← β₂·v + (1 − β₂)·g²
/// d ← √(v / (1 − β₂ᵗ)) + ε
/// θ ← θ − γ(1 − μₜ)/(1 − Π) · g/d − γμₜ₊₁/(1 − Π·μₜ₊₁) · m/d
/// ```
public final class NAdam: ElementwiseOptimizer {
    /// β₁, the decay of the gradient average.
    public var beta1: Double
    /// β₂, the decay of the squared-gradient average.
    public var beta2: Double
    /// ε, added to the denominator.
    public var epsilon: Double
    /// The weight decay λ.
    public var weightDecay: Double
    /// ψ, the momentum decay.
    public var momentumDecay: Double
    /// Whether the weight decay shrinks the weights directly (AdamW-style) instead of adding to the gradient.
    public var decoupledWeightDecay: Bool

    /// Creates the optimizer over one group of parameters.
    public convenience init(_ parameters: [Tensor], learningRate: Double = 2e-3, betas: (Double, Double) = (0.9, 0.999),
                            epsilon: Double = 1e-8, weightDecay: Double = 0, momentumDecay: Double = 4e-3,
                            decoupledWeightDecay: Bool = false) {
        self.init(groups: [ParameterGroup(parameters)], learningRate: learningRate, betas: betas, epsilon: epsilon,
                  weightDecay: weightDecay, momentumDecay: momentumDecay, decoupledWeightDecay: decoupledWeightDecay)
    }

    /// Creates the optimizer over parameter groups; groups without a learning rate use `learningRate`.
    public init(groups: [ParameterGroup], learningRate: Double = 2e-3, betas: (Double, Double) = (0.9, 0.999),
                epsilon: Double = 1e-8, weightDecay: Double = 0, momentumDecay: Double = 4e-3,
                decoupledWeightDecay: Bool = false) {
        (beta1, beta2, self.epsilon, self.weightDecay) = (betas.0, betas.1, epsilon, weightDecay)
        self.momentumDecay = momentumDecay
        self.decoupledWeightDecay = decoupledWeightDecay
        super.init(groups: groups, defaultLearningRate: learningRate, tensors: ["exp_avg", "exp_avg_sq"],
                   numbers: ["mu_product"])
    }

    /// Creates the optimizer with torch's defaults.
    public required convenience init(groups: [ParameterGroup]) {
        self.init(groups: groups, learningRate: 2e-3)
    }

    override var defaultWeightDecay: Double { weightDecay }
    override func initialNumbers(learningRate: Double) -> [Double] { [1] }

    public override class var hyperparameterTable: [OptimizerHyperparameter] {
        [.number("beta1", \NAdam.beta1, .unitInterval), .number("beta2", \NAdam.beta2, .unitInterval),
         .number("epsilon", \NAdam.epsilon, .nonNegative), .number("weightDecay", \NAdam.weightDecay, .nonNegative),
         .number("momentumDecay", \NAdam.momentumDecay, .nonNegative), .flag("decoupledWeightDecay", \NAdam.decoupledWeightDecay)]
    }

    override func update(_ parameter: inout ParameterUpdate) {
        let t = Double(parameter.step), learningRate = parameter.learningRate
        let mu = beta1 * (1 - 0.5 * pow(0.96, t * momentumDecay))
        let muNext = beta1 * (1 - 0.5 * pow(0.96, (t + 1) * momentumDecay))
        parameter.numbers[0] *= mu
        let product = parameter.numbers[0]
        parameter.apply(NAdamRule(
            beta1: beta1, beta2: beta2, epsilon: epsilon, correction2: 1 - pow(beta2, t),
            gradientRate: -learningRate * (1 - mu) / (1 - product), averageRate: -learningRate * muNext / (1 - product * muNext),
            weightDecay: parameter.weightDecay, shrink: 1 - learningRate * parameter.weightDecay,
            decoupled: decoupledWeightDecay))
    }

    public override var schedulableMomentum: Double? {
        get { beta1 }
        set { if let newValue { beta1 = newValue } }
    }
}

/// NAdam's update of one element (slots: exp_avg, exp_avg_sq).
struct NAdamRule: ElementwiseRule {
    let beta1, beta2, epsilon, correction2, gradientRate, averageRate, weightDecay, shrink: Double
    let decoupled: Bool

    @inline(__always)
    func update<L: UpdateLane>(_ p: inout L, _ g: L, _ state: inout ElementwiseLanes<L>) {
        let g = applyingWeightDecay(&p, g, weightDecay: weightDecay, decoupled: decoupled, shrink: shrink)
        updateMoments(&state, g, beta1: beta1, beta2: beta2)
        let d = (state.second / L(correction2)).squareRoot() + L(epsilon)
        p += L(gradientRate) * g / d
        p += L(averageRate) * state.first / d
    }
}

/// RAdam, Adam with a rectified adaptive rate (torch's `optim.RAdam`, same defaults: learning
/// rate 1e-3, β = (0.9, 0.999), ε = 1e-8, no weight decay).
///
/// For each parameter θ with gradient g, at its step t:
/// ```
/// g ← g + λ·θ                       (decoupled: θ ← θ·(1 − γλ) instead)
/// m ← β₁·m + (1 − β₁)·g;   v ← β₂·v + (1 − β₂)·g²;   m̂ ← m / (1 − β₁ᵗ)
/// ρ∞ ← 2/(1 − β₂) − 1;   ρₜ ← ρ∞ − 2tβ₂ᵗ/(1 − β₂ᵗ)
/// ρₜ > 5:  r ← √((ρₜ − 4)(ρₜ − 2)ρ∞ / ((ρ∞ − 4)(ρ∞ − 2)ρₜ));  θ ← θ − γ·m̂·r·√(1 − β₂ᵗ)/(√v + ε)
/// else:    θ ← θ − γ·m̂
/// ```
public final class RAdam: ElementwiseOptimizer {
    /// β₁, the decay of the gradient average.
    public var beta1: Double
    /// β₂, the decay of the squared-gradient average.
    public var beta2: Double
    /// ε, added to the denominator.
    public var epsilon: Double
    /// The weight decay λ.
    public var weightDecay: Double
    /// Whether the weight decay shrinks the weights directly (AdamW-style) instead of adding to the gradient.
    public var decoupledWeightDecay: Bool

    /// Creates the optimizer over one group of parameters.
    public convenience init(_ parameters: [Tensor], learningRate: Double = 1e-3, betas: (Double, Double) = (0.9, 0.999),
                            epsilon: Double = 1e-8, weightDecay: Double = 0, decoupledWeightDecay: Bool = false) {
        self.init(groups: [ParameterGroup(parameters)], learningRate: learningRate, betas: betas, epsilon: epsilon,
                  weightDecay: weightDecay, decoupledWeightDecay: decoupledWeightDecay)
    }

    /// Creates the optimizer over parameter groups; groups without a learning rate use `learningRate`.
    public init(groups: [ParameterGroup], learningRate: Double = 1e-3, betas: (Double, Double) = (0.9, 0.999),
                epsilon: Double = 1e-8, weightDecay: Double = 0, decoupledWeightDecay: Bool = false) {
        (beta1, beta2, self.epsilon, self.weightDecay) = (betas.0, betas.1, epsilon, weightDecay)
        self.decoupledWeightDecay = decoupledWeightDecay
        super.init(groups: groups, defaultLearningRate: learningRate, tensors: ["exp_avg", "exp_avg_sq"])
    }

    /// Creates the optimizer with torch's defaults.
    public required convenience init(groups: [ParameterGroup]) {
        self.init(groups: groups, learningRate: 1e-3)
    }

    override var defaultWeightDecay: Double { weightDecay }

    public override class var hyperparameterTable: [OptimizerHyperparameter] {
        [.number("beta1", \RAdam.beta1, .unitInterval), .number("beta2", \RAdam.beta2, .unitInterval),
         .number("epsilon", \RAdam.epsilon, .nonNegative), .number("weightDecay", \RAdam.weightDecay, .nonNegative),
         .flag("decoupledWeightDecay", \RAdam.decoupledWeightDecay)]
    }

    override func update(_ parameter: inout ParameterUpdate) {
        let t = Double(parameter.step)
        let correction2 = 1 - pow(beta2, t)
        let rhoInfinity = 2 / (1 - beta2) - 1
        let rho = rhoInfinity - 2 * t * pow(beta2, t) / correction2
        let rectified = rho > 5
        let rectification = rectified
            ? ((rho - 4) * (rho - 2) * rhoInfinity / ((rhoInfinity - 4) * (rhoInfinity - 2) * rho)).squareRoot() : 0
        parameter.apply(RAdamRule(
            beta1: beta1, beta2: beta2, epsilon: epsilon, learningRate: parameter.learningRate,
            correction1: 1 - pow(beta1, t), correction2Root: correction2.squareRoot(), rectification: rectification,
            weightDecay: parameter.weightDecay, shrink: 1 - parameter.learningRate * parameter.weightDecay,
            rectified: rectified, decoupled: decoupledWeightDecay))
    }

    public override var schedulableMomentum: Double? {
        get { beta1 }
        set { if let newValue { beta1 = newValue } }
    }
}

/// RAdam's update of one element (slots: exp_avg, exp_avg_sq).
struct RAdamRule: ElementwiseRule {
    let beta1, beta2, epsilon, learningRate, correction1, correction2Root, rectification, weightDecay, shrink: Double
    let rectified, decoupled: Bool

    @inline(__always)
    func update<L: UpdateLane>(_ p: inout L, _ g: L, _ state: inout ElementwiseLanes<L>) {
        let g = applyingWeightDecay(&p, g, weightDecay: weightDecay, decoupled: decoupled, shrink: shrink)
        updateMoments(&state, g, beta1: beta1, beta2: beta2)
        let corrected = state.first / L(correction1)
        if rectified {
            p -= corrected * L(learningRate) * (L(correction2Root) / (state.second.squareRoot() + L(epsilon))) * L(rectification)
        } else {
            p -= corrected * L(learningRate)
        }
    }
}

/// Adadelta (torch's `optim.Adadelta`, same defaults: learning rate 1, ρ = 0.9, ε = 1e-6, no
/// weight decay).
///
/// For each parameter θ with gradient g:
/// ```
/// g ← g + λ·θ
/// v ← ρ·v + (1 − ρ)·g²
/// Δ ← √(u + ε) / √(v + ε) · g
/// u ← ρ·u + (1 − ρ)·Δ²
/// θ ← θ − γ·Δ
/// ```
public final class Adadelta: ElementwiseOptimizer {
    /// ρ, the decay of both running averages.
    public var rho: Double
    /// ε, added under both square roots.
    public var epsilon: Double
    /// The L2 penalty λ added to the gradient.
    public var weightDecay: Double

    /// Creates the optimizer over one group of parameters.
    public convenience init(_ parameters: [Tensor], learningRate: Double = 1, rho: Double = 0.9, epsilon: Double = 1e-6,
                            weightDecay: Double = 0) {
        self.init(groups: [ParameterGroup(parameters)], learningRate: learningRate, rho: rho, epsilon: epsilon,
                  weightDecay: weightDecay)
    }

    /// Creates the optimizer over parameter groups; groups without a learning rate use `learningRate`.
    public init(groups: [ParameterGroup], learningRate: Double = 1, rho: Double = 0.9, epsilon: Double = 1e-6,
                weightDecay: Double = 0) {
        (self.rho, self.epsilon, self.weightDecay) = (rho, epsilon, weightDecay)
        super.init(groups: groups, defaultLearningRate: learningRate, tensors: ["square_avg", "acc_delta"])
    }

    /// Creates the optimizer with torch's defaults.
    public required convenience init(groups: [ParameterGroup]) {
        self.init(groups: groups, learningRate: 1)
    }

    override var defaultWeightDecay: Double { weightDecay }

    public override class var hyperparameterTable: [OptimizerHyperparameter] {
        [.number("rho", \Adadelta.rho, .closedUnitInterval), .number("epsilon", \Adadelta.epsilon, .nonNegative),
         .number("weightDecay", \Adadelta.weightDecay, .nonNegative)]
    }

    override func update(_ parameter: inout ParameterUpdate) {
        parameter.apply(AdadeltaRule(rho: rho, epsilon: epsilon, weightDecay: parameter.weightDecay,
                                     learningRate: parameter.learningRate))
    }
}

/// Adadelta's update of one element (slots: square_avg, acc_delta).
struct AdadeltaRule: ElementwiseRule {
    let rho, epsilon, weightDecay, learningRate: Double

    @inline(__always)
    func update<L: UpdateLane>(_ p: inout L, _ g: L, _ state: inout ElementwiseLanes<L>) {
        var g = g
        if weightDecay != 0 { g += L(weightDecay) * p }
        state.first = state.first * L(rho) + L(1 - rho) * g * g
        let delta = (state.second + L(epsilon)).squareRoot() / (state.first + L(epsilon)).squareRoot() * g
        state.second = state.second * L(rho) + L(1 - rho) * delta * delta
        p -= L(learningRate) * delta
    }
}

/// Averaged stochastic gradient descent (torch's `optim.ASGD`, same defaults: learning rate
/// 1e-2, λ = 1e-4, α = 0.75, t₀ = 1e6, no weight decay). The parameters follow SGD with a
/// decaying rate; the running average of the parameters is kept beside them
/// (``average(of:)``), for evaluation.
///
/// For each parameter θ with gradient g, at its step t (η₀ = γ, μ₀ = 1):
/// ```
/// g ← g + λ_wd·θ
/// θ ← θ·(1 − λη) − η·g
/// a ← a + μ·(θ − a)                  (a ← θ while μ = 1)
/// η ← γ / (1 + λγt)^α;   μ ← 1 / max(1, t − t₀)
/// ```
public final class ASGD: ElementwiseOptimizer {
    /// λ, the decay term.
    public var lambda: Double
    /// α, the power of the rate's decay.
    public var alpha: Double
    /// t₀, the step from which the average starts to move away from the parameters.
    public var averagingStart: Double
    /// The L2 penalty added to the gradient.
    public var weightDecay: Double

    /// Creates the optimizer over one group of parameters.
    public convenience init(_ parameters: [Tensor], learningRate: Double = 1e-2, lambda: Double = 1e-4,
                            alpha: Double = 0.75, averagingStart: Double = 1e6, weightDecay: Double = 0) {
        self.init(groups: [ParameterGroup(parameters)], learningRate: learningRate, lambda: lambda, alpha: alpha,
                  averagingStart: averagingStart, weightDecay: weightDecay)
    }

    /// Creates the optimizer over parameter groups; groups without a learning rate use `learningRate`.
    public init(groups: [ParameterGroup], learningRate: Double = 1e-2, lambda: Double = 1e-4, alpha: Double = 0.75,
                averagingStart: Double = 1e6, weightDecay: Double = 0) {
        (self.lambda, self.alpha, self.averagingStart, self.weightDecay) = (lambda, alpha, averagingStart, weightDecay)
        super.init(groups: groups, defaultLearningRate: learningRate, tensors: ["ax"], numbers: ["eta", "mu"])
    }

    /// Creates the optimizer with torch's defaults.
    public required convenience init(groups: [ParameterGroup]) {
        self.init(groups: groups, learningRate: 1e-2)
    }

    override var defaultWeightDecay: Double { weightDecay }
    override func initialNumbers(learningRate: Double) -> [Double] { [learningRate, 1] }

    /// The running average of `parameter` (torch's `state["ax"]`), or `nil` before its first step.
    public func average(of parameter: Tensor) -> Tensor? {
        guard let index = parameters.firstIndex(where: { $0 === parameter }) else { return nil }
        return parameterState(at: index).first { $0.name == "ax" }?.tensor
    }

    public override class var hyperparameterTable: [OptimizerHyperparameter] {
        [.number("lambda", \ASGD.lambda), .number("alpha", \ASGD.alpha), .number("averagingStart", \ASGD.averagingStart),
         .number("weightDecay", \ASGD.weightDecay, .nonNegative)]
    }

    override func update(_ parameter: inout ParameterUpdate) {
        let eta = parameter.numbers[0], mu = parameter.numbers[1]
        parameter.apply(ASGDRule(shrink: 1 - lambda * eta, rate: eta, averageWeight: mu, weightDecay: parameter.weightDecay))
        let t = Double(parameter.step), learningRate = parameter.learningRate
        parameter.numbers[0] = learningRate / pow(1 + lambda * learningRate * t, alpha)
        parameter.numbers[1] = 1 / Swift.max(1, t - averagingStart)
    }
}

/// ASGD's update of one element (slot: ax).
struct ASGDRule: ElementwiseRule {
    let shrink, rate, averageWeight, weightDecay: Double

    @inline(__always)
    func update<L: UpdateLane>(_ p: inout L, _ g: L, _ state: inout ElementwiseLanes<L>) {
        var g = g
        if weightDecay != 0 { g += L(weightDecay) * p }
        p *= L(shrink)
        p -= L(rate) * g
        if averageWeight != 1 { state.first += (p - state.first) * L(averageWeight) } else { state.first = p }
    }
}

/// Resilient backpropagation (torch's `optim.Rprop`, same defaults: learning rate 1e-2 as the
/// first step size, η = (0.5, 1.2), step sizes within [1e-6, 50]): each element moves by its own
/// step size in the direction opposite its gradient's sign; the step size grows by η₊ while the
/// sign holds and shrinks by η₋ when it flips (and that step is skipped). For full batches.
public final class Rprop: ElementwiseOptimizer {
    /// η₋, the factor applied when the gradient's sign flips (torch's 0.5).
    public var decrease: Double
    /// η₊, the factor applied while it holds (torch's 1.2).
    public var increase: Double
    /// The smallest step size (torch's 1e-6).
    public var minimumStepSize: Double
    /// The largest step size (torch's 50).
    public var maximumStepSize: Double

    /// Creates the optimizer over one group of parameters.
    public convenience init(_ parameters: [Tensor], learningRate: Double = 1e-2, etas: (Double, Double) = (0.5, 1.2),
                            stepSizes: (Double, Double) = (1e-6, 50)) {
        self.init(groups: [ParameterGroup(parameters)], learningRate: learningRate, etas: etas, stepSizes: stepSizes)
    }

    /// Creates the optimizer over parameter groups; groups without a learning rate use `learningRate`.
    public init(groups: [ParameterGroup], learningRate: Double = 1e-2, etas: (Double, Double) = (0.5, 1.2),
                stepSizes: (Double, Double) = (1e-6, 50)) {
        require(stepSizes.0 <= stepSizes.1, "Rprop: stepSizes must be (minimum, maximum), got \(stepSizes)")
        (decrease, increase, minimumStepSize, maximumStepSize) = (etas.0, etas.1, stepSizes.0, stepSizes.1)
        super.init(groups: groups, defaultLearningRate: learningRate, tensors: ["prev", "step_size"])
    }

    /// Creates the optimizer with torch's defaults.
    public required convenience init(groups: [ParameterGroup]) {
        self.init(groups: groups, learningRate: 1e-2)
    }

    override func initialValue(ofTensor name: String, learningRate: Double) -> Double {
        name == "step_size" ? learningRate : 0
    }

    public override class var hyperparameterTable: [OptimizerHyperparameter] {
        [.number("decrease", \Rprop.decrease, .openUnitInterval), .number("increase", \Rprop.increase, .greaterThanOne),
         .number("minimumStepSize", \Rprop.minimumStepSize, .nonNegative),
         .number("maximumStepSize", \Rprop.maximumStepSize, .nonNegative)]
    }

    override func update(_ parameter: inout ParameterUpdate) {
        parameter.apply(RpropRule(decrease: decrease, increase: increase, minimumStepSize: minimumStepSize,
                                  maximumStepSize: maximumStepSize))
    }
}

/// Rprop's update of one element (slots: prev, step_size).
struct RpropRule: ElementwiseRule {
    let decrease, increase, minimumStepSize, maximumStepSize: Double

    @inline(__always)
    func update<L: UpdateLane>(_ p: inout L, _ g: L, _ state: inout ElementwiseLanes<L>) {
        let agreement = g * state.first
        let factor = L.choose(bySignOf: agreement, positive: L(increase), zero: L(1), negative: L(decrease))
        state.second = L.lanewiseMinimum(L.lanewiseMaximum(state.second * factor, L(minimumStepSize)), L(maximumStepSize))
        // Where the sign flipped, this step is skipped and the gradient forgotten.
        let kept = L.choose(bySignOf: agreement, positive: g, zero: g, negative: L(0))
        p -= L.choose(bySignOf: kept, positive: state.second, zero: L(0), negative: -state.second)
        state.first = kept
    }
}

/// Weight decay as NAdam and RAdam apply it: decoupled, the parameter shrinks by `shrink`
/// (1 − γλ); otherwise λθ joins the gradient, which is returned.
@inline(__always)
func applyingWeightDecay<L: UpdateLane>(_ p: inout L, _ g: L, weightDecay: Double, decoupled: Bool, shrink: Double) -> L {
    guard weightDecay != 0 else { return g }
    if decoupled {
        p *= L(shrink)
        return g
    }
    return g + L(weightDecay) * p
}

/// Adam's two moment averages in torch's form (slots first and second):
/// m ← m + (1 − β₁)(g − m), v ← β₂v + (1 − β₂)g².
@inline(__always)
func updateMoments<L: UpdateLane>(_ state: inout ElementwiseLanes<L>, _ g: L, beta1: Double, beta2: Double) {
    state.first += L(1 - beta1) * (g - state.first)
    state.second = state.second * L(beta2) + L(1 - beta2) * g * g
}
