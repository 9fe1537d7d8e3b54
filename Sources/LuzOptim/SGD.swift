import LuzSerialization
import LuzTensor

/// Stochastic gradient descent with optional momentum, dampening, Nesterov momentum and weight
/// decay (torch's `optim.SGD`, same defaults: learning rate 1e-3, everything else 0/off).
///
/// For each parameter θ with gradient g, at step t:
/// ```
/// g ← g + λ·θ                                   (weight decay λ)
/// b ← g                 if t = 1                (momentum μ > 0)
/// b ← μ·b + (1 − τ)·g   otherwise               (dampening τ)
/// g ← g + μ·b if nesterov, else b
/// θ ← θ − γ·g                                   (learning rate γ)
/// ```
public final class SGD: ElementwiseOptimizer {
    /// The momentum factor μ (0: plain SGD).
    public var momentum: Double
    /// The dampening τ of the momentum.
    public var dampening: Double
    /// The L2 penalty λ added to the gradient.
    public var weightDecay: Double
    /// Whether to use Nesterov momentum (needs momentum > 0 and no dampening).
    public var nesterov: Bool

    /// Creates the optimizer over one group of parameters.
    public convenience init(_ parameters: [Tensor], learningRate: Double = 1e-3, momentum: Double = 0,
                            dampening: Double = 0, weightDecay: Double = 0, nesterov: Bool = false) {
        self.init(groups: [ParameterGroup(parameters)], learningRate: learningRate, momentum: momentum,
                  dampening: dampening, weightDecay: weightDecay, nesterov: nesterov)
    }

    /// Creates the optimizer over parameter groups; groups without a learning rate use
    /// `learningRate`.
    public init(groups: [ParameterGroup], learningRate: Double = 1e-3, momentum: Double = 0,
                dampening: Double = 0, weightDecay: Double = 0, nesterov: Bool = false) {
        require(!nesterov || (momentum > 0 && dampening == 0), "SGD: Nesterov momentum requires a momentum and zero dampening")
        (self.momentum, self.dampening, self.weightDecay, self.nesterov) = (momentum, dampening, weightDecay, nesterov)
        // torch's SGD keeps no step count, only the momentum buffer.
        super.init(groups: groups, defaultLearningRate: learningRate, tensors: ["momentum_buffer"], recordsStep: false)
    }

    /// Creates the optimizer with torch's defaults.
    public required convenience init(groups: [ParameterGroup]) {
        self.init(groups: groups, learningRate: 1e-3)
    }

    public override class var hyperparameterTable: [OptimizerHyperparameter] {
        [.number("momentum", \SGD.momentum, .nonNegative), .number("dampening", \SGD.dampening),
         .number("weightDecay", \SGD.weightDecay, .nonNegative), .flag("nesterov", \SGD.nesterov)]
    }

    override var defaultWeightDecay: Double { weightDecay }
    override func keepsTensor(at slot: Int) -> Bool { momentum != 0 }

    override func update(_ parameter: inout ParameterUpdate) {
        parameter.apply(SGDRule(learningRate: parameter.learningRate, weightDecay: parameter.weightDecay,
                                momentum: momentum, keep: 1 - dampening, nesterov: nesterov,
                                startsBuffer: parameter.createdTensor(at: 0)))
    }

    public override var schedulableMomentum: Double? {
        get { momentum }
        set { if let newValue { momentum = newValue } }
    }
}

/// SGD's update of one element (slot: momentum_buffer, kept only with momentum).
struct SGDRule: ElementwiseRule {
    let learningRate, weightDecay, momentum, keep: Double
    let nesterov: Bool
    /// The buffer was created at this step: it starts as the gradient (torch's `clone`).
    let startsBuffer: Bool
    static var cost: Int { 3 }

    @inline(__always)
    func update<L: UpdateLane>(_ p: inout L, _ g: L, _ state: inout ElementwiseLanes<L>) {
        var d = g + L(weightDecay) * p
        if momentum != 0 {
            state.first = startsBuffer ? d : L(momentum) * state.first + L(keep) * d
            d = nesterov ? d + L(momentum) * state.first : state.first
        }
        p = p - L(learningRate) * d
    }
}
