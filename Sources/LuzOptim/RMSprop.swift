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
public final class RMSprop: Optimizer {
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

    private final class State {
        var step = 0
        let squareAverage: Tensor
        var momentumBuffer: Tensor?
        var gradientAverage: Tensor?
        init(squareAverage: Tensor) { self.squareAverage = squareAverage }
    }
    private var states: [State?]

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
        require(alpha >= 0, "RMSprop: invalid alpha \(alpha)")
        require(epsilon >= 0, "RMSprop: invalid epsilon \(epsilon)")
        require(momentum >= 0, "RMSprop: invalid momentum \(momentum)")
        require(weightDecay >= 0, "RMSprop: invalid weight decay \(weightDecay)")
        self.alpha = alpha
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.momentum = momentum
        self.centered = centered
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
        let alpha = self.alpha, epsilon = self.epsilon, momentum = self.momentum, centered = self.centered
        forEachParameterWithGradient { group, parameter, gradient, index in
            let state = states[index] ?? State(squareAverage: stateTensor(like: parameter))
            states[index] = state
            if momentum > 0 && state.momentumBuffer == nil { state.momentumBuffer = stateTensor(like: parameter) }
            if centered && state.gradientAverage == nil { state.gradientAverage = stateTensor(like: parameter) }
            state.step += 1
            let learningRate = group.learningRate, decay = group.weightDecay ?? weightDecay
            let buffer = momentum > 0 ? state.momentumBuffer : nil
            let average = centered ? state.gradientAverage : nil
            func run<T: TensorFloat>(_: T.Type) {
                let a = T(alpha), oneMinusA = 1 - T(alpha), eps = T(epsilon), mu = T(momentum)
                let lr = T(learningRate), wd = T(decay)
                parameter.withUnsafeMutableBufferPointer(as: T.self) { p in
                    gradient.withUnsafeBufferPointer(as: T.self) { g in
                        state.squareAverage.withUnsafeMutableBufferPointer(as: T.self) { v in
                            withOptionalMutableBuffer(average, T.self) { gAvg in
                                withOptionalMutableBuffer(buffer, T.self) { b in
                                    for i in 0..<p.count {
                                        let d = g[i] + wd * p[i]
                                        v[i] = a * v[i] + oneMinusA * d * d
                                        var denominator: T
                                        if let gAvg {
                                            gAvg[i] = a * gAvg[i] + oneMinusA * d
                                            denominator = (v[i] - gAvg[i] * gAvg[i]).squareRoot() + eps
                                        } else {
                                            denominator = v[i].squareRoot() + eps
                                        }
                                        if let b {
                                            b[i] = mu * b[i] + d / denominator
                                            p[i] -= lr * b[i]
                                        } else {
                                            p[i] -= lr * d / denominator
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            dispatchFloat(parameter.dtype, float: { run(Float.self) }, double: { run(Double.self) })
        }
    }

    public override var hyperparameters: [String: Double] {
        ["alpha": alpha, "epsilon": epsilon, "weightDecay": weightDecay, "momentum": momentum, "centered": centered ? 1 : 0]
    }

    public override func applyHyperparameter(_ name: String, _ value: Double) {
        switch name {
        case "alpha": alpha = value
        case "epsilon": epsilon = value
        case "weightDecay": weightDecay = value
        case "momentum": momentum = value
        case "centered": centered = value != 0
        default: break
        }
    }

    public override var schedulableMomentum: Double? {
        get { momentum }
        set { if let newValue { momentum = newValue } }
    }

    public override func parameterState(at index: Int) -> [(name: String, tensor: Tensor)] {
        guard let state = states[index] else { return [] }
        var entries: [(name: String, tensor: Tensor)] = [("step", Tensor(scalar: Int64(state.step))),
                                                         ("square_avg", state.squareAverage)]
        if let buffer = state.momentumBuffer { entries.append(("momentum_buffer", buffer)) }
        if let average = state.gradientAverage { entries.append(("grad_avg", average)) }
        return entries
    }

    public override func restoreParameterState(_ entries: StateDict, at index: Int) throws {
        guard !entries.isEmpty else {
            states[index] = nil
            return
        }
        let parameter = parameters[index]
        let state = State(squareAverage: restoredCopy(try requiredEntry(entries, "square_avg", index: index), like: parameter))
        state.step = try requiredStep(entries, index: index)
        state.momentumBuffer = entries["momentum_buffer"].map { restoredCopy($0, like: parameter) }
        state.gradientAverage = entries["grad_avg"].map { restoredCopy($0, like: parameter) }
        states[index] = state
    }
}

/// Calls `body` with the elements of `tensor` for writing, or with `nil` when there is none.
@inline(__always)
func withOptionalMutableBuffer<T: TensorScalar, R>(_ tensor: Tensor?, _: T.Type,
                                                    _ body: (UnsafeMutableBufferPointer<T>?) -> R) -> R {
    guard let tensor else { return body(nil) }
    return tensor.withUnsafeMutableBufferPointer(as: T.self) { body($0) }
}
