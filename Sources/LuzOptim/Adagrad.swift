import LuzSerialization
import LuzTensor

/// Adagrad (torch's `optim.Adagrad`, same defaults: learning rate 1e-2, no learning-rate decay,
/// no weight decay, initial accumulator 0, ε = 1e-10).
///
/// For each parameter θ with gradient g, at its step t:
/// ```
/// g ← g + λ·θ
/// γ̃ ← γ / (1 + (t − 1)·η)                      (learning-rate decay η)
/// s ← s + g²
/// θ ← θ − γ̃·g / (√s + ε)
/// ```
public final class Adagrad: ElementwiseOptimizer {
    /// The learning-rate decay η.
    public var learningRateDecay: Double
    /// The L2 penalty λ added to the gradient.
    public var weightDecay: Double
    /// The starting value of the squared-gradient sums.
    public var initialAccumulatorValue: Double
    /// ε, added to the denominator.
    public var epsilon: Double

    /// Creates the optimizer over one group of parameters.
    public convenience init(_ parameters: [Tensor], learningRate: Double = 1e-2, learningRateDecay: Double = 0,
                            weightDecay: Double = 0, initialAccumulatorValue: Double = 0, epsilon: Double = 1e-10) {
        self.init(groups: [ParameterGroup(parameters)], learningRate: learningRate, learningRateDecay: learningRateDecay,
                  weightDecay: weightDecay, initialAccumulatorValue: initialAccumulatorValue, epsilon: epsilon)
    }

    /// Creates the optimizer over parameter groups; groups without a learning rate use
    /// `learningRate`.
    public init(groups: [ParameterGroup], learningRate: Double = 1e-2, learningRateDecay: Double = 0,
                weightDecay: Double = 0, initialAccumulatorValue: Double = 0, epsilon: Double = 1e-10) {
        (self.learningRateDecay, self.weightDecay, self.initialAccumulatorValue, self.epsilon) =
            (learningRateDecay, weightDecay, initialAccumulatorValue, epsilon)
        super.init(groups: groups, defaultLearningRate: learningRate, tensors: ["sum"])
    }

    /// Creates the optimizer with torch's defaults.
    public required convenience init(groups: [ParameterGroup]) {
        self.init(groups: groups, learningRate: 1e-2)
    }

    public override class var hyperparameterTable: [OptimizerHyperparameter] {
        [.number("learningRateDecay", \Adagrad.learningRateDecay, .nonNegative),
         .number("weightDecay", \Adagrad.weightDecay, .nonNegative),
         .number("initialAccumulatorValue", \Adagrad.initialAccumulatorValue, .nonNegative),
         .number("epsilon", \Adagrad.epsilon, .nonNegative)]
    }

    override var defaultWeightDecay: Double { weightDecay }
    override func initialValue(ofTensor name: String, learningRate: Double) -> Double { initialAccumulatorValue }

    override func update(_ parameter: inout ParameterUpdate) {
        let rate = parameter.learningRate / (1 + Double(parameter.step - 1) * learningRateDecay)
        parameter.apply(AdagradRule(learningRate: rate, weightDecay: parameter.weightDecay, epsilon: epsilon))
    }
}

/// Adagrad's update of one element (slot: sum).
struct AdagradRule: ElementwiseRule {
    let learningRate, weightDecay, epsilon: Double

    @inline(__always)
    func update<L: UpdateLane>(_ p: inout L, _ g: L, _ state: inout ElementwiseLanes<L>) {
        let d = g + L(weightDecay) * p
        state.first = state.first + d * d
        p = p - L(learningRate) * d / (state.first.squareRoot() + L(epsilon))
    }
}
