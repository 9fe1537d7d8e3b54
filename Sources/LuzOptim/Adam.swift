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
/// The update runs as one fused loop per parameter.
public class Adam: Optimizer {
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
    private var states: [MomentState?]

    final class MomentState {
        var step = 0
        let firstMoment: Tensor
        let secondMoment: Tensor
        var maximumSecondMoment: Tensor?

        init(firstMoment: Tensor, secondMoment: Tensor, maximumSecondMoment: Tensor?) {
            self.firstMoment = firstMoment
            self.secondMoment = secondMoment
            self.maximumSecondMoment = maximumSecondMoment
        }
    }

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
        require((0..<1).contains(betas.0) && (0..<1).contains(betas.1), "Adam: invalid betas \(betas)")
        require(epsilon >= 0, "Adam: invalid epsilon \(epsilon)")
        require(weightDecay >= 0, "Adam: invalid weight decay \(weightDecay)")
        beta1 = betas.0
        beta2 = betas.1
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.amsgrad = amsgrad
        decoupledWeightDecay = decoupled
        states = []
        super.init(groups: groups, defaultLearningRate: learningRate)
        states = Array(repeating: nil, count: parameters.count)
    }

    /// Creates the optimizer with torch's defaults.
    public required convenience init(groups: [ParameterGroup]) {
        self.init(groups: groups, learningRate: 1e-3)
    }

    public override func step() {
        stepCount += 1
        let beta1 = self.beta1, beta2 = self.beta2, epsilon = self.epsilon, amsgrad = self.amsgrad
        let decoupled = decoupledWeightDecay
        forEachParameterWithGradient { group, parameter, gradient, index in
            let state: MomentState
            if let existing = states[index] {
                state = existing
            } else {
                state = MomentState(firstMoment: stateTensor(like: parameter), secondMoment: stateTensor(like: parameter),
                                    maximumSecondMoment: nil)
                states[index] = state
            }
            if amsgrad && state.maximumSecondMoment == nil { state.maximumSecondMoment = stateTensor(like: parameter) }
            state.step += 1
            let t = Double(state.step)
            let learningRate = group.learningRate
            let decay = group.weightDecay ?? weightDecay
            let biasCorrection1 = 1 - pow(beta1, t)
            let biasCorrection2 = 1 - pow(beta2, t)
            let stepSize = learningRate / biasCorrection1
            let correction2Root = biasCorrection2.squareRoot()
            let maximum = amsgrad ? state.maximumSecondMoment : nil

            func run<T: TensorFloat>(_: T.Type) {
                let b1 = T(beta1), b2 = T(beta2), oneMinusB1 = 1 - T(beta1), oneMinusB2 = 1 - T(beta2)
                let eps = T(epsilon), size = T(stepSize), root = T(correction2Root)
                let coupledDecay = decoupled ? T.zero : T(decay)
                let shrink = decoupled ? 1 - T(learningRate * decay) : 1
                parameter.withUnsafeMutableBufferPointer(as: T.self) { p in
                    gradient.withUnsafeBufferPointer(as: T.self) { g in
                        state.firstMoment.withUnsafeMutableBufferPointer(as: T.self) { m in
                            state.secondMoment.withUnsafeMutableBufferPointer(as: T.self) { v in
                                if let maximum {
                                    maximum.withUnsafeMutableBufferPointer(as: T.self) { vmax in
                                        for i in 0..<p.count {
                                            let d = g[i] + coupledDecay * p[i]
                                            p[i] *= shrink
                                            m[i] = b1 * m[i] + oneMinusB1 * d
                                            v[i] = b2 * v[i] + oneMinusB2 * d * d
                                            vmax[i] = Swift.max(vmax[i], v[i])
                                            p[i] -= size * m[i] / (vmax[i].squareRoot() / root + eps)
                                        }
                                    }
                                } else {
                                    let p = p.baseAddress!, g = g.baseAddress!, m = m.baseAddress!, v = v.baseAddress!
                                    Parallelism.forEachChunk(of: parameter.count, cost: 8) { range in
                                        var start = range.lowerBound
                                        if T.self == Float.self {
                                            // Eight lanes at a time: written elementwise, the
                                            // loop stays scalar (a divide and a square root per
                                            // element in sequence).
                                            start = adamStepFloat8(
                                                range, p: UnsafeMutableRawPointer(p), g: UnsafeRawPointer(g),
                                                m: UnsafeMutableRawPointer(m), v: UnsafeMutableRawPointer(v),
                                                constants: AdamConstants(
                                                    beta1: Float(beta1), beta2: Float(beta2), epsilon: Float(epsilon),
                                                    stepSize: Float(stepSize), correction2Root: Float(correction2Root),
                                                    coupledDecay: Float(coupledDecay.luzDouble), shrink: Float(shrink.luzDouble)))
                                        }
                                        for i in start..<range.upperBound {
                                            let d = g[i] + coupledDecay * p[i]
                                            let mi = b1 * m[i] + oneMinusB1 * d
                                            let vi = b2 * v[i] + oneMinusB2 * d * d
                                            m[i] = mi
                                            v[i] = vi
                                            p[i] = p[i] * shrink - size * mi / (vi.squareRoot() / root + eps)
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
        ["beta1": beta1, "beta2": beta2, "epsilon": epsilon, "weightDecay": weightDecay, "amsgrad": amsgrad ? 1 : 0]
    }

    public override func applyHyperparameter(_ name: String, _ value: Double) {
        switch name {
        case "beta1": beta1 = value
        case "beta2": beta2 = value
        case "epsilon": epsilon = value
        case "weightDecay": weightDecay = value
        case "amsgrad": amsgrad = value != 0
        default: break
        }
    }

    public override var schedulableMomentum: Double? {
        get { beta1 }
        set { if let newValue { beta1 = newValue } }
    }

    public override func parameterState(at index: Int) -> [(name: String, tensor: Tensor)] {
        guard let state = states[index] else { return [] }
        var entries: [(name: String, tensor: Tensor)] = [
            ("step", Tensor(scalar: Int64(state.step))),
            ("exp_avg", state.firstMoment),
            ("exp_avg_sq", state.secondMoment),
        ]
        if let maximum = state.maximumSecondMoment { entries.append(("max_exp_avg_sq", maximum)) }
        return entries
    }

    public override func restoreParameterState(_ entries: StateDict, at index: Int) throws {
        guard !entries.isEmpty else {
            states[index] = nil
            return
        }
        let parameter = parameters[index]
        let state = MomentState(
            firstMoment: restoredCopy(try requiredEntry(entries, "exp_avg", index: index), like: parameter),
            secondMoment: restoredCopy(try requiredEntry(entries, "exp_avg_sq", index: index), like: parameter),
            maximumSecondMoment: entries["max_exp_avg_sq"].map { restoredCopy($0, like: parameter) })
        state.step = try requiredStep(entries, index: index)
        states[index] = state
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

/// The scalars of one Adam update of one parameter.
struct AdamConstants {
    var beta1, beta2, epsilon, stepSize, correction2Root, coupledDecay, shrink: Float
}

/// Adam's update for float32 over the largest multiple of 8 in `range`, eight lanes at a time;
/// returns where the scalar loop takes over.
@inline(__always)
func adamStepFloat8(_ range: Range<Int>, p: UnsafeMutableRawPointer, g: UnsafeRawPointer,
                    m: UnsafeMutableRawPointer, v: UnsafeMutableRawPointer, constants c: AdamConstants) -> Int {
    typealias V = SIMD8<Float>
    let b1 = V(repeating: c.beta1), oneMinusB1 = V(repeating: 1 - c.beta1), b2 = V(repeating: c.beta2)
    let oneMinusB2 = V(repeating: 1 - c.beta2), eps = V(repeating: c.epsilon), size = V(repeating: c.stepSize)
    let root = V(repeating: c.correction2Root), decay = V(repeating: c.coupledDecay), shrink = V(repeating: c.shrink)
    var i = range.lowerBound
    while i + 8 <= range.upperBound {
        let offset = i * MemoryLayout<Float>.stride
        let pi = p.loadUnaligned(fromByteOffset: offset, as: V.self)
        let d = g.loadUnaligned(fromByteOffset: offset, as: V.self) + decay * pi
        let mi = b1 * m.loadUnaligned(fromByteOffset: offset, as: V.self) + oneMinusB1 * d
        let vi = b2 * v.loadUnaligned(fromByteOffset: offset, as: V.self) + oneMinusB2 * d * d
        m.storeBytes(of: mi, toByteOffset: offset, as: V.self)
        v.storeBytes(of: vi, toByteOffset: offset, as: V.self)
        p.storeBytes(of: pi * shrink - size * mi / (vi.squareRoot() / root + eps), toByteOffset: offset, as: V.self)
        i += 8
    }
    return i
}
