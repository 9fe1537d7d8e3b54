import LuzTensor

/// How a loss combines the per-element (or per-example) losses.
public enum Reduction: Sendable {
    /// The average (for class-weighted losses, the weighted average; see each loss).
    case mean
    /// The sum.
    case sum
    /// No reduction: one loss per element or example.
    case none
}

/// A loss: maps a prediction and a target to a tensor, a scalar unless the reduction is
/// ``Reduction/none``. What a training loop calls after the forward pass.
public protocol Loss {
    /// The loss of `prediction` against `target`.
    func callAsFunction(_ prediction: Tensor, _ target: Tensor) -> Tensor
}

/// A loss whose reduction can be changed: what needs the per-example losses of any such loss
/// (mixup's, which weights each example) sets ``reduction`` to ``Reduction/none`` on a copy.
public protocol ReducibleLoss: Loss {
    /// How the per-element (or per-example) losses are combined.
    var reduction: Reduction { get set }
}

extension BCELoss: ReducibleLoss {}
extension BCEWithLogitsLoss: ReducibleLoss {}
extension CrossEntropyLoss: ReducibleLoss {}
extension HuberLoss: ReducibleLoss {}
extension L1Loss: ReducibleLoss {}
extension MSELoss: ReducibleLoss {}
extension MultiLabelSoftMarginLoss: ReducibleLoss {}
extension NLLLoss: ReducibleLoss {}
extension PoissonNLLLoss: ReducibleLoss {}
extension SigmoidFocalLoss: ReducibleLoss {}
extension SmoothL1Loss: ReducibleLoss {}

func reduce(_ loss: Tensor, _ reduction: Reduction) -> Tensor {
    switch reduction {
    case .mean: return loss.mean()
    case .sum: return loss.sum()
    case .none: return loss
    }
}

/// A zero-dimensional tensor holding `value` in the dtype of `tensor`, to broadcast in `where`.
func scalar(_ value: Double, like tensor: Tensor) -> Tensor {
    Tensor.full([], value: value, dtype: tensor.dtype.isFloatingPoint ? tensor.dtype : .float32)
}

func checkSameShape(_ input: Tensor, _ target: Tensor, _ op: String) {
    // torch only warns here; a [N, 1] prediction against a [N] target silently broadcasting to
    // [N, N] is a classic bug, so shapes must match.
    require(input.shape == target.shape,
            "\(op): input shape \(input.shape) and target shape \(target.shape) differ (reshape one of them)")
}

// MARK: - Regression losses

/// The mean squared error (x − y)² (torch's `mse_loss`).
public func mseLoss(_ input: Tensor, _ target: Tensor, reduction: Reduction = .mean) -> Tensor {
    checkSameShape(input, target, "mseLoss")
    let difference = input - target
    return reduce(difference * difference, reduction)
}

/// The mean absolute error |x − y| (torch's `l1_loss`).
public func l1Loss(_ input: Tensor, _ target: Tensor, reduction: Reduction = .mean) -> Tensor {
    checkSameShape(input, target, "l1Loss")
    return reduce((input - target).abs(), reduction)
}

/// The smooth L1 loss (torch's `smooth_l1_loss`): with d = x − y, 0.5·d²/β where |d| < β and
/// |d| − 0.5·β elsewhere; β = 0 gives the L1 loss. torch's default β is 1.
public func smoothL1Loss(_ input: Tensor, _ target: Tensor, beta: Double = 1, reduction: Reduction = .mean) -> Tensor {
    checkSameShape(input, target, "smoothL1Loss")
    require(beta >= 0, "smoothL1Loss: beta must be non-negative, got \(beta)")
    let difference = input - target
    let magnitude = difference.abs()
    if beta == 0 { return reduce(magnitude, reduction) }
    let quadratic = withNoGrad { magnitude .< beta }
    let loss = Tensor.where(quadratic, difference * difference * (0.5 / beta), magnitude - 0.5 * beta)
    return reduce(loss, reduction)
}

/// The Huber loss (torch's `huber_loss`): with d = x − y, 0.5·d² where |d| < δ and
/// δ·(|d| − 0.5·δ) elsewhere; torch's default δ is 1. It is δ times the smooth L1 loss with
/// β = δ, so its slope far from the target is δ rather than 1.
///
/// - Parameter delta: δ, positive.
public func huberLoss(_ input: Tensor, _ target: Tensor, delta: Double = 1, reduction: Reduction = .mean) -> Tensor {
    checkSameShape(input, target, "huberLoss")
    require(delta > 0, "huberLoss: delta must be positive, got \(delta)")
    let difference = input - target
    let magnitude = difference.abs()
    let quadratic = withNoGrad { magnitude .< delta }
    let loss = Tensor.where(quadratic, difference * difference * 0.5, (magnitude - 0.5 * delta) * delta)
    return reduce(loss, reduction)
}

// MARK: - Binary classification

/// Binary cross-entropy on probabilities (torch's `binary_cross_entropy`):
/// −w·(y·log x + (1 − y)·log(1 − x)), each log clamped to ≥ −100 as in torch so that x = 0 or 1
/// gives a finite loss. The mean is the plain mean over elements.
///
/// - Parameters:
///   - input: probabilities in [0, 1].
///   - target: the same shape, values in [0, 1].
///   - weight: per-element weights, broadcast to the input's shape.
public func binaryCrossEntropy(_ input: Tensor, _ target: Tensor, weight: Tensor? = nil,
                               reduction: Reduction = .mean) -> Tensor {
    checkSameShape(input, target, "binaryCrossEntropy")
    var loss = elementwiseBinaryCrossEntropy(input, target)
    if let weight { loss = loss * weight }
    return reduce(loss, reduction)
}

/// The unreduced binary cross-entropy as one node, with torch's backward:
/// ∂/∂x = (x − y) / max(x·(1 − x), 1e-12), ∂/∂y = log(1 − x) − log x (clamped logs).
private func elementwiseBinaryCrossEntropy(_ input: Tensor, _ target: Tensor) -> Tensor {
    require(input.dtype.isFloatingPoint, "binaryCrossEntropy: needs a floating-point input, got \(input.dtype)")
    let y = target.dtype == input.dtype ? target : withNoGrad { target.to(input.dtype) }
    func forward<T: TensorFloat>(_: T.Type) -> Tensor {
        input.withUnsafeBufferPointer(as: T.self) { x in
            y.withUnsafeBufferPointer(as: T.self) { t in
                Tensor(shape: input.shape) { (out: UnsafeMutableBufferPointer<T>) in
                    for i in 0..<out.count {
                        require(x[i] >= 0 && x[i] <= 1, "binaryCrossEntropy: input value \(x[i]) is outside [0, 1]")
                        let logX = Swift.max(T.luzLog(x[i]), -100)
                        let logOneMinusX = Swift.max(T.luzLog(1 - x[i]), -100)
                        out[i] = -(t[i] * logX + (1 - t[i]) * logOneMinusX)
                    }
                }
            }
        }
    }
    let output = input.dtype == .float32 ? forward(Float.self) : forward(Double.self)
    return Tensor.recordOperation("binaryCrossEntropy", inputs: [input, target], output: output, saving: [input, target]) { g in
        func backward<T: TensorFloat>(_: T.Type) -> [Tensor?] {
            input.withUnsafeBufferPointer(as: T.self) { x in
                y.withUnsafeBufferPointer(as: T.self) { t in
                    g.withUnsafeBufferPointer(as: T.self) { gp in
                        let gradInput = input.requiresGrad ? Tensor(shape: input.shape) { (out: UnsafeMutableBufferPointer<T>) in
                            for i in 0..<out.count {
                                out[i] = gp[i] * (x[i] - t[i]) / Swift.max(x[i] * (1 - x[i]), T(1e-12))
                            }
                        } : nil
                        let gradTarget = target.requiresGrad ? Tensor(shape: input.shape) { (out: UnsafeMutableBufferPointer<T>) in
                            for i in 0..<out.count {
                                out[i] = gp[i] * (Swift.max(T.luzLog(1 - x[i]), -100) - Swift.max(T.luzLog(x[i]), -100))
                            }
                        } : nil
                        return [gradInput, gradTarget]
                    }
                }
            }
        }
        return input.dtype == .float32 ? backward(Float.self) : backward(Double.self)
    }
}

/// Binary cross-entropy on logits, computed stably (torch's `binary_cross_entropy_with_logits`):
/// −w·(p·y·log σ(x) + (1 − y)·log(1 − σ(x))) = w·((1 − y)·x + (1 + (p − 1)·y)·softplus(−x)).
///
/// - Parameters:
///   - weight: per-element weights, broadcast to the input's shape.
///   - positiveWeight: the weight p of positive examples per class, broadcast along the last
///     dimension (torch's `pos_weight`); > 1 raises recall.
public func binaryCrossEntropyWithLogits(_ input: Tensor, _ target: Tensor, weight: Tensor? = nil,
                                         positiveWeight: Tensor? = nil, reduction: Reduction = .mean) -> Tensor {
    checkSameShape(input, target, "binaryCrossEntropyWithLogits")
    let y = target.dtype == input.dtype ? target : target.to(input.dtype)
    // No linear threshold: torch's loss keeps the exact log(1 + e^−x) for large logits too.
    let negativeLogSigmoid = (-input).softplus(threshold: .infinity)
    var loss: Tensor
    if let positiveWeight {
        loss = (1 - y) * input + (1 + (positiveWeight - 1) * y) * negativeLogSigmoid
    } else {
        loss = (1 - y) * input + negativeLogSigmoid
    }
    if let weight { loss = loss * weight }
    return reduce(loss, reduction)
}

// MARK: - Multi-class classification

/// Cross-entropy between logits and classes (torch's `cross_entropy`), the loss of
/// classification: log-softmax and negative log-likelihood in one fused, stable node.
///
/// With class indices yₙ, class weights w (default 1), label smoothing ε and C classes:
/// ℓₙ = −(1 − ε)·w_yₙ·log pₙ,yₙ − (ε/C)·Σ_c w_c·log pₙ,c, and 0 where yₙ = `ignoreIndex`.
/// The mean is Σₙ ℓₙ / Σₙ w_yₙ over the examples not ignored (torch's weighted mean; the plain
/// mean without weights).
///
/// With class probabilities (a floating-point target of the input's shape):
/// ℓₙ = −Σ_c w_c·qₙ,c·log pₙ,c with q = (1 − ε)·target + ε/C; the mean divides by the number
/// of examples.
///
/// - Parameters:
///   - input: logits `[N, C]`, `[C]`, or `[N, C, d₁, …]` (classes in dimension 1).
///   - target: int64 class indices `[N]` (`[]`, `[N, d₁, …]`), or probabilities shaped like `input`.
///   - weight: `[C]` class weights, or `nil`.
///   - ignoreIndex: a class index whose examples contribute nothing (torch's −100).
///   - labelSmoothing: ε in [0, 1].
public func crossEntropy(_ input: Tensor, _ target: Tensor, weight: Tensor? = nil, ignoreIndex: Int = -100,
                         labelSmoothing: Double = 0, reduction: Reduction = .mean) -> Tensor {
    require((0...1).contains(labelSmoothing), "crossEntropy: labelSmoothing \(labelSmoothing) is outside [0, 1]")
    let (rows, targets, outputShape) = classRows(input, target, probabilities: target.dtype.isFloatingPoint, op: "crossEntropy")
    if target.dtype.isFloatingPoint {
        let loss = ClassLossKernel.crossEntropyProbabilities(rows, targets, weight: weight, smoothing: labelSmoothing,
                                                             reduction: reduction)
        return reduction == .none ? loss.reshaped(outputShape) : loss
    }
    let loss = ClassLossKernel.classIndexLoss(rows, targets, weight: weight, ignoreIndex: ignoreIndex,
                                              smoothing: labelSmoothing, fromLogits: true, reduction: reduction)
    return reduction == .none ? loss.reshaped(outputShape) : loss
}

/// The negative log-likelihood of class indices given log-probabilities (torch's `nll_loss`):
/// ℓₙ = −w_yₙ·xₙ,yₙ (0 where yₙ = `ignoreIndex`); the mean is Σₙ ℓₙ / Σₙ w_yₙ over the examples
/// not ignored. Use it after ``logSoftmax(_:dim:)``; ``crossEntropy(_:_:weight:ignoreIndex:labelSmoothing:reduction:)``
/// does both.
///
/// - Parameters:
///   - input: log-probabilities `[N, C]`, `[C]` or `[N, C, d₁, …]`.
///   - target: int64 class indices `[N]` (`[]`, `[N, d₁, …]`).
public func nllLoss(_ input: Tensor, _ target: Tensor, weight: Tensor? = nil, ignoreIndex: Int = -100,
                    reduction: Reduction = .mean) -> Tensor {
    require(target.dtype == .int64, classIndexDtypeMessage("nllLoss", target.dtype))
    let (rows, targets, outputShape) = classRows(input, target, probabilities: false, op: "nllLoss")
    let loss = ClassLossKernel.classIndexLoss(rows, targets, weight: weight, ignoreIndex: ignoreIndex,
                                              smoothing: 0, fromLogits: false, reduction: reduction)
    return reduction == .none ? loss.reshaped(outputShape) : loss
}

/// The message for class-index targets of another dtype than int64, with the conversion.
private func classIndexDtypeMessage(_ op: String, _ dtype: DType) -> String {
    "\(op): class indices must be int64; these are \(dtype): convert them with `target.to(.int64)`"
        + (dtype.isFloatingPoint ? " (a floating-point target is read as class probabilities, shaped like the input)" : "")
}

/// Brings a classification input to `[M, C]` rows (classes last) and its target to `[M]`
/// (indices) or `[M, C]` (probabilities); also returns the shape of an unreduced loss.
private func classRows(_ input: Tensor, _ target: Tensor, probabilities: Bool,
                       op: String) -> (Tensor, Tensor, [Int]) {
    require(input.dtype.isFloatingPoint, "\(op): the input must be floating point, got \(input.dtype)")
    require(input.rank >= 1, "\(op): the input must have a class dimension, got a scalar")
    var indexShape = input.shape
    indexShape.remove(at: input.rank == 1 ? 0 : 1)
    if probabilities {
        // Float labels ([N] class numbers, as R and NumPy make them) are read as probabilities
        // because of their dtype: say what they look like instead of blaming their shape.
        require(target.shape == input.shape || target.shape != indexShape, classIndexDtypeMessage(op, target.dtype))
        require(target.shape == input.shape,
                "\(op): probability targets must have the input's shape \(input.shape), got \(target.shape)")
    } else {
        require(target.dtype == .int64, classIndexDtypeMessage(op, target.dtype))
        let expected = indexShape
        require(target.shape == expected,
                "\(op): input \(input.shape) needs a target of shape \(expected), got \(target.shape)")
    }
    switch input.rank {
    case 1:
        let rows = input.reshaped([1, input.shape[0]])
        return (rows, probabilities ? target.reshaped([1, input.shape[0]]) : target.reshaped([1]), [])
    case 2:
        return (input, target, [input.shape[0]])
    default:
        // [N, C, d...] → [N, d..., C] → [M, C]: classes become the last dimension.
        let classes = input.shape[1]
        let order = [0] + Array(2..<input.rank) + [1]
        let rows = input.permuted(order).reshaped([-1, classes])
        let lossShape = [input.shape[0]] + Array(input.shape[2...])
        let targets = probabilities ? target.permuted(order).reshaped([-1, classes]) : target.reshaped([-1])
        return (rows, targets, lossShape)
    }
}

/// The message for a class index outside `0..<classes`; the top value `classes` is what labels
/// counted from 1 (R's factors) give, so it also says how to shift them.
private func outOfRangeMessage(_ op: String, label: Int, classes: Int) -> String {
    "\(op): target \(label) is out of range for \(classes) classes: class indices count from 0 (0..<\(classes))"
        + (label == classes ? "; if your labels count from 1, subtract 1: `targets - 1`" : "")
}

/// The fused forward and backward kernels of the classification losses.
enum ClassLossKernel {
    /// Cross-entropy (from logits) or NLL (from log-probabilities) of class-index targets over
    /// `[M, C]` rows, with class weights, an ignored index and label smoothing.
    static func classIndexLoss(_ input: Tensor, _ targets: Tensor, weight: Tensor?, ignoreIndex: Int,
                               smoothing: Double, fromLogits: Bool, reduction: Reduction) -> Tensor {
        let m = input.shape[0], c = input.shape[1]
        if let weight {
            require(weight.shape == [c], "\(fromLogits ? "crossEntropy" : "nllLoss"): weight shape \(weight.shape) should be [\(c)]")
        }
        let w = weight.map { $0.dtype == input.dtype ? $0 : $0.to(input.dtype) }
        let dtype = input.dtype
        // Per-row maximum and log Σ exp(x − max) (cross-entropy only), saved for backward, and
        // the normalizer Σ w_y. The two are kept apart: log-probabilities are (x − max) − log s,
        // as in logSoftmax. Adding them first rounds max + log s to the precision of a large
        // max (float32 logits near 1e4 keep three decimals) and loses the digits of the loss.
        let peaks = fromLogits ? Tensor.zeros([m], dtype: .float64) : nil
        let logSums = fromLogits ? Tensor.zeros([m], dtype: .float64) : nil
        let perExample = reduction == .none ? Tensor.zeros([m], dtype: dtype) : nil
        var total = 0.0, weightTotal = 0.0
        let op = fromLogits ? "crossEntropy" : "nllLoss"

        func forward<T: TensorFloat>(_: T.Type) {
            let epsilon = T(smoothing), keep = 1 - T(smoothing), share = T(smoothing) / T(Swift.max(c, 1))
            input.withUnsafeBufferPointer(as: T.self) { xBuffer in
                targets.withUnsafeBufferPointer(as: Int64.self) { tBuffer in
                    withOptionalBuffer(w, T.self) { wBuffer in
                        withOptionalMutableBuffer(peaks, Double.self) { peakBuffer in
                        withOptionalMutableBuffer(logSums, Double.self) { logSumBuffer in
                            withOptionalMutableBuffer(perExample, T.self) { outBuffer in
                                let x = xBuffer.baseAddress!, t = tBuffer.baseAddress!
                                let wp = wBuffer?.baseAddress, out = outBuffer?.baseAddress
                                let peakOut = peakBuffer?.baseAddress, logSumOut = logSumBuffer?.baseAddress
                                for n in 0..<m {
                                    let label = Int(t[n])
                                    if label == ignoreIndex { continue }
                                    require(label >= 0 && label < c, outOfRangeMessage(op, label: label, classes: c))
                                    let row = x + n * c
                                    // The log-probability of class j is (x_j − peak) − logSum.
                                    var peak = T.zero, logSum = T.zero
                                    if let peakOut, let logSumOut {
                                        peak = -T.infinity
                                        for j in 0..<c { peak = Swift.max(peak, row[j]) }
                                        if !peak.isFinite { peak = 0 }
                                        var s = T.zero
                                        for j in 0..<c { s += T.luzExp(row[j] - peak) }
                                        logSum = T.luzLog(s)
                                        peakOut[n] = Double(peak)
                                        logSumOut[n] = Double(logSum)
                                    }
                                    let wy = wp?[label] ?? 1
                                    var loss = -keep * wy * ((row[label] - peak) - logSum)
                                    if epsilon > 0 {
                                        var smooth = T.zero
                                        for j in 0..<c { smooth -= (wp?[j] ?? 1) * ((row[j] - peak) - logSum) }
                                        loss += share * smooth
                                    }
                                    if let out { out[n] = loss }
                                    total += Double(loss)
                                    weightTotal += Double(wy)
                                }
                            }
                        }
                        }
                    }
                }
            }
        }
        if dtype == .float32 { forward(Float.self) } else { forward(Double.self) }
        let output: Tensor
        if let perExample {
            output = perExample
        } else {
            output = Tensor.full([], value: reduction == .mean ? total / weightTotal : total, dtype: dtype)
        }
        guard GradMode.isEnabled && input.requiresGrad else { return output }
        let normalizer = weightTotal

        return Tensor.recordOperation(op, inputs: [input], output: output, saving: [input, targets]) { g in
            func backward<T: TensorFloat>(_: T.Type) -> Tensor {
                let keep = 1 - T(smoothing), share = T(smoothing) / T(Swift.max(c, 1))
                return input.withUnsafeBufferPointer(as: T.self) { x in
                    targets.withUnsafeBufferPointer(as: Int64.self) { t in
                        g.withUnsafeBufferPointer(as: T.self) { gp in
                            withOptionalBuffer(peaks, Double.self) { peakBuffer in
                            withOptionalBuffer(logSums, Double.self) { logSumBuffer in
                                withOptionalBuffer(w, T.self) { wp in
                                    var weightSum = T.zero
                                    if let wp { for j in 0..<c { weightSum += wp[j] } } else { weightSum = T(c) }
                                    return Tensor(shape: [m, c]) { (out: UnsafeMutableBufferPointer<T>) in
                                        for n in 0..<m {
                                            let dst = out.baseAddress! + n * c
                                            let label = Int(t[n])
                                            if label == ignoreIndex {
                                                for j in 0..<c { dst[j] = 0 }
                                                continue
                                            }
                                            let coefficient: T
                                            switch reduction {
                                            case .none: coefficient = gp[n]
                                            case .sum: coefficient = gp[0]
                                            case .mean: coefficient = gp[0] / T(normalizer)
                                            }
                                            let wy = wp.map { $0[label] } ?? 1
                                            let row = x.baseAddress! + n * c
                                            if fromLogits {
                                                // ∂ℓ/∂x_j = p_j·((1 − ε)·w_y + (ε/C)·Σw) − (1 − ε)·w_y·[j = y] − (ε/C)·w_j
                                                let peak = T(peakBuffer![n]), logSum = T(logSumBuffer![n])
                                                let mass = keep * wy + share * weightSum
                                                for j in 0..<c {
                                                    let wj = wp.map { $0[j] } ?? 1
                                                    dst[j] = coefficient * (T.luzExp((row[j] - peak) - logSum) * mass - share * wj)
                                                }
                                                dst[label] -= coefficient * keep * wy
                                            } else {
                                                for j in 0..<c { dst[j] = 0 }
                                                dst[label] = -coefficient * wy
                                            }
                                        }
                                    }
                                }
                            }
                            }
                        }
                    }
                }
            }
            return [dtype == .float32 ? backward(Float.self) : backward(Double.self)]
        }
    }

    /// Cross-entropy of `[M, C]` logits against `[M, C]` class probabilities.
    static func crossEntropyProbabilities(_ input: Tensor, _ target: Tensor, weight: Tensor?, smoothing: Double,
                                          reduction: Reduction) -> Tensor {
        let m = input.shape[0], c = input.shape[1]
        if let weight {
            require(weight.shape == [c], "crossEntropy: weight shape \(weight.shape) should be [\(c)]")
        }
        let dtype = input.dtype
        let w = weight.map { $0.dtype == dtype ? $0 : $0.to(dtype) }
        let y = target.dtype == dtype ? target : withNoGrad { target.to(dtype) }
        // The log-probabilities, kept for the backward pass.
        let logProbabilities = withNoGrad { input.logSoftmax(dim: 1) }

        func forward<T: TensorFloat>(_: T.Type) -> Tensor {
            let keep = 1 - T(smoothing), share = T(smoothing) / T(Swift.max(c, 1))
            return logProbabilities.withUnsafeBufferPointer(as: T.self) { lp in
                y.withUnsafeBufferPointer(as: T.self) { q in
                    withOptionalBuffer(w, T.self) { wp in
                        var losses = [T](repeating: 0, count: m)
                        for n in 0..<m {
                            var loss = T.zero
                            for j in 0..<c {
                                let target = keep * q[n * c + j] + share
                                loss -= (wp.map { $0[j] } ?? 1) * target * lp[n * c + j]
                            }
                            losses[n] = loss
                        }
                        if reduction == .none {
                            return Tensor(shape: [m]) { (out: UnsafeMutableBufferPointer<T>) in
                                for n in 0..<m { out[n] = losses[n] }
                            }
                        }
                        var sum = 0.0
                        for n in 0..<m { sum += Double(losses[n]) }
                        if reduction == .mean { sum /= Double(Swift.max(m, 1)) }
                        return Tensor(shape: []) { (out: UnsafeMutableBufferPointer<T>) in out[0] = T(sum) }
                    }
                }
            }
        }
        let output = dtype == .float32 ? forward(Float.self) : forward(Double.self)
        guard GradMode.isEnabled && (input.requiresGrad || target.requiresGrad) else { return output }

        return Tensor.recordOperation("crossEntropy", inputs: [input, target], output: output, saving: [input, target]) { g in
            func backward<T: TensorFloat>(_: T.Type) -> [Tensor?] {
                let keep = 1 - T(smoothing), share = T(smoothing) / T(Swift.max(c, 1))
                return logProbabilities.withUnsafeBufferPointer(as: T.self) { lp in
                    y.withUnsafeBufferPointer(as: T.self) { q in
                        g.withUnsafeBufferPointer(as: T.self) { gp in
                            withOptionalBuffer(w, T.self) { wp in
                                func coefficient(_ n: Int) -> T {
                                    switch reduction {
                                    case .none: return gp[n]
                                    case .sum: return gp[0]
                                    case .mean: return gp[0] / T(Swift.max(m, 1))
                                    }
                                }
                                // ∂ℓ/∂x_j = p_j·Σ_c w_c·q_c − w_j·q_j
                                let gradInput = input.requiresGrad ? Tensor(shape: [m, c]) { (out: UnsafeMutableBufferPointer<T>) in
                                    for n in 0..<m {
                                        var mass = T.zero
                                        for j in 0..<c { mass += (wp.map { $0[j] } ?? 1) * (keep * q[n * c + j] + share) }
                                        let k = coefficient(n)
                                        for j in 0..<c {
                                            let wj = wp.map { $0[j] } ?? 1
                                            out[n * c + j] = k * (T.luzExp(lp[n * c + j]) * mass - wj * (keep * q[n * c + j] + share))
                                        }
                                    }
                                } : nil
                                // ∂ℓ/∂target_j = −(1 − ε)·w_j·log p_j
                                let gradTarget = target.requiresGrad ? Tensor(shape: [m, c]) { (out: UnsafeMutableBufferPointer<T>) in
                                    for n in 0..<m {
                                        let k = coefficient(n)
                                        for j in 0..<c { out[n * c + j] = -k * keep * (wp.map { $0[j] } ?? 1) * lp[n * c + j] }
                                    }
                                } : nil
                                return [gradInput, gradTarget]
                            }
                        }
                    }
                }
            }
            return dtype == .float32 ? backward(Float.self) : backward(Double.self)
        }
    }
}

/// Calls `body` with the elements of `tensor` as `T`, or with `nil` when there is no tensor.
@inline(__always)
func withOptionalBuffer<T: TensorScalar, R>(_ tensor: Tensor?, _: T.Type, _ body: (UnsafeBufferPointer<T>?) -> R) -> R {
    guard let tensor else { return body(nil) }
    return tensor.withUnsafeBufferPointer(as: T.self) { body($0) }
}

// MARK: - Loss modules

/// ``mseLoss(_:_:reduction:)`` as a value.
public struct MSELoss: Loss {
    /// How the per-element losses are combined.
    public var reduction: Reduction
    /// Creates the loss.
    public init(reduction: Reduction = .mean) { self.reduction = reduction }
    /// The loss of `prediction` against `target`.
    public func callAsFunction(_ prediction: Tensor, _ target: Tensor) -> Tensor {
        mseLoss(prediction, target, reduction: reduction)
    }
}

/// ``l1Loss(_:_:reduction:)`` as a value.
public struct L1Loss: Loss {
    /// How the per-element losses are combined.
    public var reduction: Reduction
    /// Creates the loss.
    public init(reduction: Reduction = .mean) { self.reduction = reduction }
    /// The loss of `prediction` against `target`.
    public func callAsFunction(_ prediction: Tensor, _ target: Tensor) -> Tensor {
        l1Loss(prediction, target, reduction: reduction)
    }
}

/// ``smoothL1Loss(_:_:beta:reduction:)`` as a value.
public struct SmoothL1Loss: Loss {
    /// Where the loss turns from quadratic to linear (torch's 1).
    public var beta: Double
    /// How the per-element losses are combined.
    public var reduction: Reduction
    /// Creates the loss.
    public init(beta: Double = 1, reduction: Reduction = .mean) {
        self.beta = beta
        self.reduction = reduction
    }
    /// The loss of `prediction` against `target`.
    public func callAsFunction(_ prediction: Tensor, _ target: Tensor) -> Tensor {
        smoothL1Loss(prediction, target, beta: beta, reduction: reduction)
    }
}

/// ``huberLoss(_:_:delta:reduction:)`` as a value (torch's `nn.HuberLoss`).
public struct HuberLoss: Loss {
    /// Where the loss turns from quadratic to linear (torch's 1).
    public var delta: Double
    /// How the per-element losses are combined.
    public var reduction: Reduction
    /// Creates the loss.
    public init(delta: Double = 1, reduction: Reduction = .mean) {
        self.delta = delta
        self.reduction = reduction
    }
    /// The loss of `prediction` against `target`.
    public func callAsFunction(_ prediction: Tensor, _ target: Tensor) -> Tensor {
        huberLoss(prediction, target, delta: delta, reduction: reduction)
    }
}

/// ``crossEntropy(_:_:weight:ignoreIndex:labelSmoothing:reduction:)`` as a value (torch's
/// `nn.CrossEntropyLoss`): logits against class indices or class probabilities.
public struct CrossEntropyLoss: Loss {
    /// `[C]` class weights, or `nil`.
    public var weight: Tensor?
    /// A class index whose examples are ignored (torch's −100).
    public var ignoreIndex: Int
    /// The label smoothing ε in [0, 1].
    public var labelSmoothing: Double
    /// How the per-example losses are combined.
    public var reduction: Reduction
    /// Creates the loss.
    public init(weight: Tensor? = nil, ignoreIndex: Int = -100, labelSmoothing: Double = 0,
                reduction: Reduction = .mean) {
        self.weight = weight
        self.ignoreIndex = ignoreIndex
        self.labelSmoothing = labelSmoothing
        self.reduction = reduction
    }
    /// The loss of `prediction` against `target`.
    public func callAsFunction(_ prediction: Tensor, _ target: Tensor) -> Tensor {
        crossEntropy(prediction, target, weight: weight, ignoreIndex: ignoreIndex,
                     labelSmoothing: labelSmoothing, reduction: reduction)
    }
}

/// ``nllLoss(_:_:weight:ignoreIndex:reduction:)`` as a value (torch's `nn.NLLLoss`).
public struct NLLLoss: Loss {
    /// `[C]` class weights, or `nil`.
    public var weight: Tensor?
    /// A class index whose examples are ignored (torch's −100).
    public var ignoreIndex: Int
    /// How the per-example losses are combined.
    public var reduction: Reduction
    /// Creates the loss.
    public init(weight: Tensor? = nil, ignoreIndex: Int = -100, reduction: Reduction = .mean) {
        self.weight = weight
        self.ignoreIndex = ignoreIndex
        self.reduction = reduction
    }
    /// The loss of `prediction` against `target`.
    public func callAsFunction(_ prediction: Tensor, _ target: Tensor) -> Tensor {
        nllLoss(prediction, target, weight: weight, ignoreIndex: ignoreIndex, reduction: reduction)
    }
}

/// ``binaryCrossEntropy(_:_:weight:reduction:)`` as a value (torch's `nn.BCELoss`).
public struct BCELoss: Loss {
    /// Per-element weights broadcast to the input, or `nil`.
    public var weight: Tensor?
    /// How the per-element losses are combined.
    public var reduction: Reduction
    /// Creates the loss.
    public init(weight: Tensor? = nil, reduction: Reduction = .mean) {
        self.weight = weight
        self.reduction = reduction
    }
    /// The loss of `prediction` against `target`.
    public func callAsFunction(_ prediction: Tensor, _ target: Tensor) -> Tensor {
        binaryCrossEntropy(prediction, target, weight: weight, reduction: reduction)
    }
}

/// ``binaryCrossEntropyWithLogits(_:_:weight:positiveWeight:reduction:)`` as a value (torch's
/// `nn.BCEWithLogitsLoss`).
public struct BCEWithLogitsLoss: Loss {
    /// Per-element weights broadcast to the input, or `nil`.
    public var weight: Tensor?
    /// Per-class weights of positive examples (torch's `pos_weight`), or `nil`.
    public var positiveWeight: Tensor?
    /// How the per-element losses are combined.
    public var reduction: Reduction
    /// Creates the loss.
    public init(weight: Tensor? = nil, positiveWeight: Tensor? = nil, reduction: Reduction = .mean) {
        self.weight = weight
        self.positiveWeight = positiveWeight
        self.reduction = reduction
    }
    /// The loss of `prediction` against `target`.
    public func callAsFunction(_ prediction: Tensor, _ target: Tensor) -> Tensor {
        binaryCrossEntropyWithLogits(prediction, target, weight: weight, positiveWeight: positiveWeight,
                                     reduction: reduction)
    }
}

/// Calls `body` with the elements of `tensor` for writing, or with `nil` when there is none.
@inline(__always)
func withOptionalMutableBuffer<T: TensorScalar, R>(_ tensor: Tensor?, _: T.Type,
                                                    _ body: (UnsafeMutableBufferPointer<T>?) -> R) -> R {
    guard let tensor else { return body(nil) }
    return tensor.withUnsafeMutableBufferPointer(as: T.self) { body($0) }
}
