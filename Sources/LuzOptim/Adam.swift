import Foundation
import LuzSerialization
import LuzTensor

/// Adam (torch's `optim.Adam`, same defaults: learning rate 1e-3, betas (0.9, 0.999),
/// ε = 1e-8, no weight decay, no AMSGrad).
///
/// For each parameter θ with gradient g, at its step t:
/// ```
/// g ← g + λ·θ                                   (weight decay λ, added to the gradient)
/// m ← β₁·m + (1 − β₁)·g
/// v ← β₂·v + (1 − β₂)·g²
/// v̂ ← max(v̂, v) with AMSGrad, else v
/// θ ← θ − γ/(1 − β₁ᵗ) · m / (√v̂ / √(1 − β₂ᵗ) + ε)
/// ```
/// The update runs as one fused loop per parameter, eight float lanes at a time.
public class Adam: ElementwiseOptimizer {
    /// The decay rate β₁ of the first moment.
    public var beta1: Double
    /// The decay rate β₂ of the second moment.
    public var beta2: Double
    /// ε, added to the denominator for numerical stability.
    public var epsilon: Double
    /// The weight decay λ (an L2 penalty for Adam, decoupled for ``AdamW``).
    public var weightDecay: Double
    /// Whether to use the AMSGrad variant (the maximum of past second moments).
    public var amsgrad: Bool

    /// Decoupled weight decay (AdamW): θ ← θ·(1 − γλ) instead of adding λθ to the gradient.
    let decoupledWeightDecay: Bool

    /// Creates the optimizer over one group of parameters.
    public convenience init(_ parameters: [Tensor], learningRate: Double = 1e-3, betas: (Double, Double) = (0.9, 0.999),
                            epsilon: Double = 1e-8, weightDecay: Double = 0, amsgrad: Bool = false) {
        self.init(groups: [ParameterGroup(parameters)], learningRate: learningRate, betas: betas, epsilon: epsilon,
                  weightDecay: weightDecay, amsgrad: amsgrad)
    }

    /// Creates the optimizer over parameter groups; groups without a learning rate use
    /// `learningRate`.
    public convenience init(groups: [ParameterGroup], learningRate: Double = 1e-3, betas: (Double, Double) = (0.9, 0.999),
                            epsilon: Double = 1e-8, weightDecay: Double = 0, amsgrad: Bool = false) {
        self.init(groups: groups, learningRate: learningRate, betas: betas, epsilon: epsilon, weightDecay: weightDecay,
                  amsgrad: amsgrad, decoupled: false)
    }

    init(groups: [ParameterGroup], learningRate: Double, betas: (Double, Double), epsilon: Double,
         weightDecay: Double, amsgrad: Bool, decoupled: Bool) {
        (beta1, beta2, self.epsilon, self.weightDecay, self.amsgrad) = (betas.0, betas.1, epsilon, weightDecay, amsgrad)
        decoupledWeightDecay = decoupled
        super.init(groups: groups, defaultLearningRate: learningRate, tensors: ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"])
    }

    /// Creates the optimizer with torch's defaults.
    public required convenience init(groups: [ParameterGroup]) {
        self.init(groups: groups, learningRate: 1e-3)
    }

    public override class var hyperparameterTable: [OptimizerHyperparameter] {
        [.number("beta1", \Adam.beta1, .unitInterval), .number("beta2", \Adam.beta2, .unitInterval),
         .number("epsilon", \Adam.epsilon, .nonNegative), .number("weightDecay", \Adam.weightDecay, .nonNegative),
         .flag("amsgrad", \Adam.amsgrad)]
    }

    override var defaultWeightDecay: Double { weightDecay }
    override func keepsTensor(at slot: Int) -> Bool { slot < 2 || amsgrad }

    override func update(_ parameter: inout ParameterUpdate) {
        let t = Double(parameter.step)
        let decay = parameter.weightDecay, learningRate = parameter.learningRate
        parameter.apply(AdamRule(
            beta1: beta1, beta2: beta2, epsilon: epsilon, stepSize: learningRate / (1 - pow(beta1, t)),
            correction2Root: (1 - pow(beta2, t)).squareRoot(),
            coupledDecay: decoupledWeightDecay ? 0 : decay, shrink: decoupledWeightDecay ? 1 - learningRate * decay : 1,
            amsgrad: amsgrad))
    }

    public override var schedulableMomentum: Double? {
        get { beta1 }
        set { if let newValue { beta1 = newValue } }
    }
}

/// Adam's update of one element (slots: exp_avg, exp_avg_sq, max_exp_avg_sq).
struct AdamRule: ElementwiseRule {
    let beta1, beta2, epsilon, stepSize, correction2Root, coupledDecay, shrink: Double
    let amsgrad: Bool

    @inline(__always)
    func update<L: UpdateLane>(_ p: inout L, _ g: L, _ state: inout ElementwiseLanes<L>) {
        let d = g + L(coupledDecay) * p
        state.first = L(beta1) * state.first + L(1 - beta1) * d
        state.second = L(beta2) * state.second + L(1 - beta2) * d * d
        var denominatorSquare = state.second
        if amsgrad {
            state.third = L.lanewiseMaximum(state.third, state.second)
            denominatorSquare = state.third
        }
        p = p * L(shrink) - L(stepSize) * state.first / (denominatorSquare.squareRoot() / L(correction2Root) + L(epsilon))
    }
}

/// Adam with decoupled weight decay (torch's `optim.AdamW`, same defaults: learning rate 1e-3,
/// betas (0.9, 0.999), ε = 1e-8, weight decay 1e-2): each step first shrinks the parameter,
/// θ ← θ·(1 − γλ), then applies the Adam update without decay in the gradient.
public final class AdamW: Adam {
    /// Creates the optimizer over one group of parameters.
    public convenience init(_ parameters: [Tensor], learningRate: Double = 1e-3, betas: (Double, Double) = (0.9, 0.999),
                            epsilon: Double = 1e-8, weightDecay: Double = 1e-2, amsgrad: Bool = false) {
        self.init(groups: [ParameterGroup(parameters)], learningRate: learningRate, betas: betas, epsilon: epsilon,
                  weightDecay: weightDecay, amsgrad: amsgrad)
    }

    /// Creates the optimizer over parameter groups; groups without a learning rate use
    /// `learningRate`.
    public convenience init(groups: [ParameterGroup], learningRate: Double = 1e-3, betas: (Double, Double) = (0.9, 0.999),
                            epsilon: Double = 1e-8, weightDecay: Double = 1e-2, amsgrad: Bool = false) {
        self.init(groups: groups, learningRate: learningRate, betas: betas, epsilon: epsilon, weightDecay: weightDecay,
                  amsgrad: amsgrad, decoupled: true)
    }

    /// Creates the optimizer with torch's defaults.
    public required convenience init(groups: [ParameterGroup]) {
        self.init(groups: groups, learningRate: 1e-3)
    }
}
