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
        require((0..<1).contains(betas.0) && (0..<1).contains(betas.1), "Adamax: betas must be in [0, 1), got \(betas)")
        require(epsilon >= 0, "Adamax: invalid epsilon \(epsilon)")
        require(weightDecay >= 0, "Adamax: invalid weight decay \(weightDecay)")
        (beta1, beta2, self.epsilon, self.weightDecay) = (betas.0, betas.1, epsilon, weightDecay)
        super.init(groups: groups, defaultLearningRate: learningRate, tensors: ["exp_avg", "exp_inf"])
    }

    /// Creates the optimizer with torch's defaults.
    public required convenience init(groups: [ParameterGroup]) {
        self.init(groups: groups, learningRate: 2e-3)
    }

    override var defaultWeightDecay: Double { weightDecay }

    override func update<T: TensorFloat>(_ p: UnsafeMutableBufferPointer<T>, gradient g: UnsafeBufferPointer<T>,
                                         state: [UnsafeMutableBufferPointer<T>], numbers: inout [Double], step: Int,
                                         learningRate: Double, weightDecay: Double) {
        let m = state[0], u = state[1]
        let b1 = T(beta1), b2 = T(beta2), eps = T(epsilon), wd = T(weightDecay)
        let rate = T(learningRate / (1 - pow(beta1, Double(step))))
        for i in 0..<p.count {
            var gi = g[i]
            if wd != 0 { gi += wd * p[i] }
            m[i] += (1 - b1) * (gi - m[i])
            u[i] = Swift.max(u[i] * b2, abs(gi) + eps)
            p[i] -= rate * m[i] / u[i]
        }
    }

    public override var hyperparameters: [String: Double] {
        ["beta1": beta1, "beta2": beta2, "epsilon": epsilon, "weightDecay": weightDecay]
    }

    public override func applyHyperparameter(_ name: String, _ value: Double) {
        switch name {
        case "beta1": beta1 = value
        case "beta2": beta2 = value
        case "epsilon": epsilon = value
        case "weightDecay": weightDecay = value
        default: break
        }
    }

    public override var schedulableMomentum: Double? {
        get { beta1 }
        set { if let newValue { beta1 = newValue } }
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
        require((0..<1).contains(betas.0) && (0..<1).contains(betas.1), "NAdam: betas must be in [0, 1), got \(betas)")
        require(epsilon >= 0, "NAdam: invalid epsilon \(epsilon)")
        require(weightDecay >= 0, "NAdam: invalid weight decay \(weightDecay)")
        require(momentumDecay >= 0, "NAdam: invalid momentum decay \(momentumDecay)")
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

    override func update<T: TensorFloat>(_ p: UnsafeMutableBufferPointer<T>, gradient g: UnsafeBufferPointer<T>,
                                         state: [UnsafeMutableBufferPointer<T>], numbers: inout [Double], step: Int,
                                         learningRate: Double, weightDecay: Double) {
        let m = state[0], v = state[1]
        let t = Double(step)
        let correction2 = T(1 - pow(beta2, t))
        let mu = beta1 * (1 - 0.5 * pow(0.96, t * momentumDecay))
        let muNext = beta1 * (1 - 0.5 * pow(0.96, (t + 1) * momentumDecay))
        numbers[0] *= mu
        let product = numbers[0]
        let gradientRate = T(-learningRate * (1 - mu) / (1 - product))
        let averageRate = T(-learningRate * muNext / (1 - product * muNext))
        let b1 = T(beta1), b2 = T(beta2), eps = T(epsilon), wd = T(weightDecay)
        let shrink = T(1 - learningRate * weightDecay), decoupled = decoupledWeightDecay
        for i in 0..<p.count {
            var gi = g[i]
            if wd != 0 {
                if decoupled { p[i] *= shrink } else { gi += wd * p[i] }
            }
            m[i] += (1 - b1) * (gi - m[i])
            v[i] = v[i] * b2 + (1 - b2) * gi * gi
            let d = (v[i] / correction2).squareRoot() + eps
            p[i] += gradientRate * gi / d
            p[i] += averageRate * m[i] / d
        }
    }

    public override var hyperparameters: [String: Double] {
        ["beta1": beta1, "beta2": beta2, "epsilon": epsilon, "weightDecay": weightDecay, "momentumDecay": momentumDecay,
         "decoupledWeightDecay": decoupledWeightDecay ? 1 : 0]
    }

    public override func applyHyperparameter(_ name: String, _ value: Double) {
        switch name {
        case "beta1": beta1 = value
        case "beta2": beta2 = value
        case "epsilon": epsilon = value
        case "weightDecay": weightDecay = value
        case "momentumDecay": momentumDecay = value
        case "decoupledWeightDecay": decoupledWeightDecay = value != 0
        default: break
        }
    }

    public override var schedulableMomentum: Double? {
        get { beta1 }
        set { if let newValue { beta1 = newValue } }
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
        require((0..<1).contains(betas.0) && (0..<1).contains(betas.1), "RAdam: betas must be in [0, 1), got \(betas)")
        require(epsilon >= 0, "RAdam: invalid epsilon \(epsilon)")
        require(weightDecay >= 0, "RAdam: invalid weight decay \(weightDecay)")
        (beta1, beta2, self.epsilon, self.weightDecay) = (betas.0, betas.1, epsilon, weightDecay)
        self.decoupledWeightDecay = decoupledWeightDecay
        super.init(groups: groups, defaultLearningRate: learningRate, tensors: ["exp_avg", "exp_avg_sq"])
    }

    /// Creates the optimizer with torch's defaults.
    public required convenience init(groups: [ParameterGroup]) {
        self.init(groups: groups, learningRate: 1e-3)
    }

    override var defaultWeightDecay: Double { weightDecay }

    override func update<T: TensorFloat>(_ p: UnsafeMutableBufferPointer<T>, gradient g: UnsafeBufferPointer<T>,
                                         state: [UnsafeMutableBufferPointer<T>], numbers: inout [Double], step: Int,
                                         learningRate: Double, weightDecay: Double) {
        let m = state[0], v = state[1]
        let t = Double(step)
        let correction1 = 1 - pow(beta1, t), correction2 = 1 - pow(beta2, t)
        let rhoInfinity = 2 / (1 - beta2) - 1
        let rho = rhoInfinity - 2 * t * pow(beta2, t) / correction2
        let rectified = rho > 5
        let rectification = rectified
            ? ((rho - 4) * (rho - 2) * rhoInfinity / ((rhoInfinity - 4) * (rhoInfinity - 2) * rho)).squareRoot() : 0
        let b1 = T(beta1), b2 = T(beta2), eps = T(epsilon), wd = T(weightDecay), lr = T(learningRate)
        let c1 = T(correction1), root2 = T(correction2.squareRoot()), r = T(rectification)
        let shrink = T(1 - learningRate * weightDecay), decoupled = decoupledWeightDecay
        for i in 0..<p.count {
            var gi = g[i]
            if wd != 0 {
                if decoupled { p[i] *= shrink } else { gi += wd * p[i] }
            }
            m[i] += (1 - b1) * (gi - m[i])
            v[i] = v[i] * b2 + (1 - b2) * gi * gi
            let corrected = m[i] / c1
            if rectified {
                p[i] -= corrected * lr * (root2 / (v[i].squareRoot() + eps)) * r
            } else {
                p[i] -= corrected * lr
            }
        }
    }

    public override var hyperparameters: [String: Double] {
        ["beta1": beta1, "beta2": beta2, "epsilon": epsilon, "weightDecay": weightDecay,
         "decoupledWeightDecay": decoupledWeightDecay ? 1 : 0]
    }

    public override func applyHyperparameter(_ name: String, _ value: Double) {
        switch name {
        case "beta1": beta1 = value
        case "beta2": beta2 = value
        case "epsilon": epsilon = value
        case "weightDecay": weightDecay = value
        case "decoupledWeightDecay": decoupledWeightDecay = value != 0
        default: break
        }
    }

    public override var schedulableMomentum: Double? {
        get { beta1 }
        set { if let newValue { beta1 = newValue } }
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
        require((0...1).contains(rho), "Adadelta: rho must be in [0, 1], got \(rho)")
        require(epsilon >= 0, "Adadelta: invalid epsilon \(epsilon)")
        require(weightDecay >= 0, "Adadelta: invalid weight decay \(weightDecay)")
        (self.rho, self.epsilon, self.weightDecay) = (rho, epsilon, weightDecay)
        super.init(groups: groups, defaultLearningRate: learningRate, tensors: ["square_avg", "acc_delta"])
    }

    /// Creates the optimizer with torch's defaults.
    public required convenience init(groups: [ParameterGroup]) {
        self.init(groups: groups, learningRate: 1)
    }

    override var defaultWeightDecay: Double { weightDecay }

    override func update<T: TensorFloat>(_ p: UnsafeMutableBufferPointer<T>, gradient g: UnsafeBufferPointer<T>,
                                         state: [UnsafeMutableBufferPointer<T>], numbers: inout [Double], step: Int,
                                         learningRate: Double, weightDecay: Double) {
        let v = state[0], u = state[1]
        let r = T(rho), eps = T(epsilon), wd = T(weightDecay), lr = T(learningRate)
        for i in 0..<p.count {
            var gi = g[i]
            if wd != 0 { gi += wd * p[i] }
            v[i] = v[i] * r + (1 - r) * gi * gi
            let delta = (u[i] + eps).squareRoot() / (v[i] + eps).squareRoot() * gi
            u[i] = u[i] * r + (1 - r) * delta * delta
            p[i] -= lr * delta
        }
    }

    public override var hyperparameters: [String: Double] {
        ["rho": rho, "epsilon": epsilon, "weightDecay": weightDecay]
    }

    public override func applyHyperparameter(_ name: String, _ value: Double) {
        switch name {
        case "rho": rho = value
        case "epsilon": epsilon = value
        case "weightDecay": weightDecay = value
        default: break
        }
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
        require(weightDecay >= 0, "ASGD: invalid weight decay \(weightDecay)")
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

    override func update<T: TensorFloat>(_ p: UnsafeMutableBufferPointer<T>, gradient g: UnsafeBufferPointer<T>,
                                         state: [UnsafeMutableBufferPointer<T>], numbers: inout [Double], step: Int,
                                         learningRate: Double, weightDecay: Double) {
        let average = state[0]
        let eta = numbers[0], mu = numbers[1]
        let decay = T(1 - lambda * eta), rate = T(eta), weight = T(mu), wd = T(weightDecay)
        for i in 0..<p.count {
            var gi = g[i]
            if wd != 0 { gi += wd * p[i] }
            p[i] *= decay
            p[i] -= rate * gi
            if mu != 1 { average[i] += (p[i] - average[i]) * weight } else { average[i] = p[i] }
        }
        let t = Double(step)
        numbers[0] = learningRate / pow(1 + lambda * learningRate * t, alpha)
        numbers[1] = 1 / Swift.max(1, t - averagingStart)
    }

    public override var hyperparameters: [String: Double] {
        ["lambda": lambda, "alpha": alpha, "averagingStart": averagingStart, "weightDecay": weightDecay]
    }

    public override func applyHyperparameter(_ name: String, _ value: Double) {
        switch name {
        case "lambda": lambda = value
        case "alpha": alpha = value
        case "averagingStart": averagingStart = value
        case "weightDecay": weightDecay = value
        default: break
        }
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
        require(0 < etas.0 && etas.0 < 1 && 1 < etas.1, "Rprop: etas must satisfy 0 < η₋ < 1 < η₊, got \(etas)")
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

    override func update<T: TensorFloat>(_ p: UnsafeMutableBufferPointer<T>, gradient g: UnsafeBufferPointer<T>,
                                         state: [UnsafeMutableBufferPointer<T>], numbers: inout [Double], step: Int,
                                         learningRate: Double, weightDecay: Double) {
        let previous = state[0], size = state[1]
        let down = T(decrease), up = T(increase), low = T(minimumStepSize), high = T(maximumStepSize)
        for i in 0..<p.count {
            let agreement = g[i] * previous[i]
            let factor: T = agreement > 0 ? up : agreement < 0 ? down : 1
            size[i] = Swift.min(Swift.max(size[i] * factor, low), high)
            let gi: T = agreement < 0 ? 0 : g[i]
            if gi > 0 { p[i] -= size[i] } else if gi < 0 { p[i] += size[i] }
            previous[i] = gi
        }
    }

    public override var hyperparameters: [String: Double] {
        ["decrease": decrease, "increase": increase, "minimumStepSize": minimumStepSize, "maximumStepSize": maximumStepSize]
    }

    public override func applyHyperparameter(_ name: String, _ value: Double) {
        switch name {
        case "decrease": decrease = value
        case "increase": increase = value
        case "minimumStepSize": minimumStepSize = value
        case "maximumStepSize": maximumStepSize = value
        default: break
        }
    }
}
