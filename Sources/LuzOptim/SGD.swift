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
public final class SGD: Optimizer {
    /// The momentum factor μ (0: plain SGD).
    public var momentum: Double
    /// The dampening τ of the momentum.
    public var dampening: Double
    /// The L2 penalty λ added to the gradient.
    public var weightDecay: Double
    /// Whether to use Nesterov momentum (needs momentum > 0 and no dampening).
    public var nesterov: Bool

    private var momentumBuffers: [Tensor?]

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
        require(momentum >= 0, "SGD: invalid momentum \(momentum)")
        require(weightDecay >= 0, "SGD: invalid weight decay \(weightDecay)")
        require(!nesterov || (momentum > 0 && dampening == 0), "SGD: Nesterov momentum requires a momentum and zero dampening")
        self.momentum = momentum
        self.dampening = dampening
        self.weightDecay = weightDecay
        self.nesterov = nesterov
        momentumBuffers = []
        super.init(groups: groups, defaultLearningRate: learningRate)
        momentumBuffers = Array(repeating: nil, count: parameters.count)
    }

    /// Creates the optimizer with torch's defaults.
    public required convenience init(groups: [ParameterGroup]) {
        self.init(groups: groups, learningRate: 1e-3)
    }

    public override func step() {
        stepCount += 1
        let momentum = self.momentum, dampening = self.dampening, nesterov = self.nesterov
        forEachParameterWithGradient { group, parameter, gradient, index in
            let decay = group.weightDecay ?? weightDecay
            let learningRate = group.learningRate
            var buffer = momentumBuffers[index]
            let first = buffer == nil
            if momentum != 0 && first {
                buffer = stateTensor(like: parameter)
                momentumBuffers[index] = buffer
            }
            func run<T: TensorFloat>(_: T.Type) {
                let lr = T(learningRate), wd = T(decay), mu = T(momentum), keep = 1 - T(dampening)
                parameter.withUnsafeMutableBufferPointer(as: T.self) { p in
                    gradient.withUnsafeBufferPointer(as: T.self) { g in
                        if let buffer {
                            buffer.withUnsafeMutableBufferPointer(as: T.self) { b in
                                for i in 0..<p.count {
                                    let d = g[i] + wd * p[i]
                                    b[i] = first ? d : mu * b[i] + keep * d
                                    p[i] -= lr * (nesterov ? d + mu * b[i] : b[i])
                                }
                            }
                        } else {
                            for i in 0..<p.count { p[i] -= lr * (g[i] + wd * p[i]) }
                        }
                    }
                }
            }
            dispatchFloat(parameter.dtype, float: { run(Float.self) }, double: { run(Double.self) })
        }
    }

    public override var hyperparameters: [String: Double] {
        ["momentum": momentum, "dampening": dampening, "weightDecay": weightDecay, "nesterov": nesterov ? 1 : 0]
    }

    public override func applyHyperparameter(_ name: String, _ value: Double) {
        switch name {
        case "momentum": momentum = value
        case "dampening": dampening = value
        case "weightDecay": weightDecay = value
        case "nesterov": nesterov = value != 0
        default: break
        }
    }

    public override var schedulableMomentum: Double? {
        get { momentum }
        set { if let newValue { momentum = newValue } }
    }

    public override func parameterState(at index: Int) -> [(name: String, tensor: Tensor)] {
        momentumBuffers[index].map { [("momentum_buffer", $0)] } ?? []
    }

    public override func restoreParameterState(_ entries: StateDict, at index: Int) throws {
        momentumBuffers[index] = entries["momentum_buffer"].map { restoredCopy($0, like: parameters[index]) }
    }
}
