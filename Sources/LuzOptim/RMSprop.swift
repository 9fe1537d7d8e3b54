import LuzSerialization
import LuzTensor

/// RMSprop (torch's `optim.RMSprop`, same defaults: learning rate 1e-2, α = 0.99, ε = 1e-8,
/// no weight decay, no momentum, not centered).
///
/// For each parameter θ with gradient g:
/// ```
/// g ← g + λ·θ
/// v ← α·v + (1 − α)·g²
/// centered:  ḡ ← α·ḡ + (1 − α)·g;  d ← √(v − ḡ²) + ε      otherwise d ← √v + ε
/// momentum:  b ← μ·b + g/d;  θ ← θ − γ·b                  otherwise θ ← θ − γ·g/d
/// ```
public final class RMSprop: ElementwiseOptimizer {
    /// The smoothing constant α of the squared-gradient average.
    public var alpha: Double
    /// ε, added to the denominator.
    public var epsilon: Double
    /// The L2 penalty λ added to the gradient.
    public var weightDecay: Double
    /// The momentum factor μ (0: none).
    public var momentum: Double
    /// Whether to normalize by the variance (subtracting the squared mean gradient).
    public var centered: Bool

    /// Creates the optimizer over one group of parameters.
    public convenience init(_ parameters: [Tensor], learningRate: Double = 1e-2, alpha: Double = 0.99,
                            epsilon: Double = 1e-8, weightDecay: Double = 0, momentum: Double = 0, centered: Bool = false) {
        self.init(groups: [ParameterGroup(parameters)], learningRate: learningRate, alpha: alpha, epsilon: epsilon,
                  weightDecay: weightDecay, momentum: momentum, centered: centered)
    }

    /// Creates the optimizer over parameter groups; groups without a learning rate use
    /// `learningRate`.
    public init(groups: [ParameterGroup], learningRate: Double = 1e-2, alpha: Double = 0.99,
                epsilon: Double = 1e-8, weightDecay: Double = 0, momentum: Double = 0, centered: Bool = false) {
        (self.alpha, self.epsilon, self.weightDecay, self.momentum, self.centered) = (alpha, epsilon, weightDecay, momentum, centered)
        super.init(groups: groups, defaultLearningRate: learningRate, tensors: ["square_avg", "momentum_buffer", "grad_avg"])
    }

    /// Creates the optimizer with torch's defaults.
    public required convenience init(groups: [ParameterGroup]) {
        self.init(groups: groups, learningRate: 1e-2)
    }

    public override class var hyperparameterTable: [OptimizerHyperparameter] {
        [.number("alpha", \RMSprop.alpha, .nonNegative), .number("epsilon", \RMSprop.epsilon, .nonNegative),
         .number("weightDecay", \RMSprop.weightDecay, .nonNegative), .number("momentum", \RMSprop.momentum, .nonNegative),
         .flag("centered", \RMSprop.centered)]
    }

    override var defaultWeightDecay: Double { weightDecay }
    override func keepsTensor(at slot: Int) -> Bool {
        switch slot {
        case 1: momentum > 0
        case 2: centered
        default: true
        }
    }

    override func update(_ parameter: inout ParameterUpdate) {
        parameter.apply(RMSpropRule(learningRate: parameter.learningRate, weightDecay: parameter.weightDecay, alpha: alpha,
                                    epsilon: epsilon, momentum: momentum, centered: centered))
    }

    public override var schedulableMomentum: Double? {
        get { momentum }
        set { if let newValue { momentum = newValue } }
    }
}

/// RMSprop's update of one element (slots: square_avg, momentum_buffer, grad_avg).
struct RMSpropRule: ElementwiseRule {
    let learningRate, weightDecay, alpha, epsilon, momentum: Double
    let centered: Bool

    @inline(__always)
    func update<L: UpdateLane>(_ p: inout L, _ g: L, _ state: inout ElementwiseLanes<L>) {
        let d = g + L(weightDecay) * p
        state.first = L(alpha) * state.first + L(1 - alpha) * d * d
        let denominator: L
        if centered {
            state.third = L(alpha) * state.third + L(1 - alpha) * d
            denominator = (state.first - state.third * state.third).squareRoot() + L(epsilon)
        } else {
            denominator = state.first.squareRoot() + L(epsilon)
        }
        if momentum > 0 {
            state.second = L(momentum) * state.second + d / denominator
            p = p - L(learningRate) * state.second
        } else {
            p = p - L(learningRate) * d / denominator
        }
    }
}
