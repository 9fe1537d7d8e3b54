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
public final class Adagrad: Optimizer {
    /// The learning-rate decay η.
    public var learningRateDecay: Double
    /// The L2 penalty λ added to the gradient.
    public var weightDecay: Double
    /// The starting value of the squared-gradient sums.
    public var initialAccumulatorValue: Double
    /// ε, added to the denominator.
    public var epsilon: Double

    private final class State {
        var step = 0
        let sum: Tensor
        init(sum: Tensor) { self.sum = sum }
    }
    private var states: [State?]

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
        require(learningRateDecay >= 0, "Adagrad: invalid learning-rate decay \(learningRateDecay)")
        require(initialAccumulatorValue >= 0, "Adagrad: invalid initial accumulator value \(initialAccumulatorValue)")
        self.learningRateDecay = learningRateDecay
        self.weightDecay = weightDecay
        self.initialAccumulatorValue = initialAccumulatorValue
        self.epsilon = epsilon
        states = []
        super.init(groups: groups, defaultLearningRate: learningRate)
        states = Array(repeating: nil, count: parameters.count)
    }

    /// Creates the optimizer with torch's defaults.
    public required convenience init(groups: [ParameterGroup]) {
        self.init(groups: groups, learningRate: 1e-2)
    }

    public override func step() {
        stepCount += 1
        let epsilon = self.epsilon
        forEachParameterWithGradient { group, parameter, gradient, index in
            let state = states[index] ?? State(sum: stateTensor(like: parameter, value: initialAccumulatorValue))
            states[index] = state
            state.step += 1
            let rate = group.learningRate / (1 + Double(state.step - 1) * learningRateDecay)
            let decay = group.weightDecay ?? weightDecay
            func run<T: TensorFloat>(_: T.Type) {
                let lr = T(rate), wd = T(decay), eps = T(epsilon)
                parameter.withUnsafeMutableBufferPointer(as: T.self) { p in
                    gradient.withUnsafeBufferPointer(as: T.self) { g in
                        state.sum.withUnsafeMutableBufferPointer(as: T.self) { s in
                            for i in 0..<p.count {
                                let d = g[i] + wd * p[i]
                                s[i] += d * d
                                p[i] -= lr * d / (s[i].squareRoot() + eps)
                            }
                        }
                    }
                }
            }
            dispatchFloat(parameter.dtype, float: { run(Float.self) }, double: { run(Double.self) })
        }
    }

    public override var hyperparameters: [String: Double] {
        ["learningRateDecay": learningRateDecay, "weightDecay": weightDecay,
         "initialAccumulatorValue": initialAccumulatorValue, "epsilon": epsilon]
    }

    public override func applyHyperparameter(_ name: String, _ value: Double) {
        switch name {
        case "learningRateDecay": learningRateDecay = value
        case "weightDecay": weightDecay = value
        case "initialAccumulatorValue": initialAccumulatorValue = value
        case "epsilon": epsilon = value
        default: break
        }
    }

    public override func parameterState(at index: Int) -> [(name: String, tensor: Tensor)] {
        guard let state = states[index] else { return [] }
        return [("step", Tensor(scalar: Int64(state.step))), ("sum", state.sum)]
    }

    public override func restoreParameterState(_ entries: StateDict, at index: Int) throws {
        guard !entries.isEmpty else {
            states[index] = nil
            return
        }
        let state = State(sum: restoredCopy(try requiredEntry(entries, "sum", index: index), like: parameters[index]))
        state.step = try requiredStep(entries, index: index)
        states[index] = state
    }
}
