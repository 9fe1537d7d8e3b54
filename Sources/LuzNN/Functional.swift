import LuzTensor

// Functional forms of the layers (torch.nn.functional): a model can call these directly
// instead of holding activation or dropout modules.

/// max(x, 0) elementwise; the gradient at exactly 0 is 0, as in torch.
public func relu(_ x: Tensor) -> Tensor { x.relu() }

/// x for x > 0 and `negativeSlope`·x otherwise (torch's default slope 0.01).
public func leakyRelu(_ x: Tensor, negativeSlope: Double = 0.01) -> Tensor {
    x.leakyRelu(negativeSlope: negativeSlope)
}

/// GELU, x·Φ(x) (exact, torch's default), or its tanh approximation.
public func gelu(_ x: Tensor, approximateTanh: Bool = false) -> Tensor {
    x.gelu(approximateTanh: approximateTanh)
}

/// The logistic function 1 / (1 + e^−x) elementwise.
public func sigmoid(_ x: Tensor) -> Tensor { x.sigmoid() }

/// (1 / β)·log(1 + e^(β·x)) elementwise, computed without overflow, and x where β·x exceeds
/// `threshold` (torch's `F.softplus`, β = 1 and threshold 20 by default).
public func softplus(_ x: Tensor, beta: Double = 1, threshold: Double = 20) -> Tensor {
    x.softplus(beta: beta, threshold: threshold)
}

/// exp(x) / Σ exp(x) along `dim`.
public func softmax(_ x: Tensor, dim: Int) -> Tensor { x.softmax(dim: dim) }

/// log(softmax(x)) along `dim`, computed stably.
public func logSoftmax(_ x: Tensor, dim: Int) -> Tensor { x.logSoftmax(dim: dim) }

/// The dimensions `startDim` through `endDim` merged (torch's `flatten`; the layer form
/// ``Flatten`` starts at dimension 1 to keep the batch).
public func flatten(_ x: Tensor, startDim: Int = 0, endDim: Int = -1) -> Tensor {
    x.flattened(from: startDim, through: endDim)
}

/// The affine map `x·weightᵀ + bias` over the last dimension of `input` (torch's `linear`).
///
/// One node in the graph: the product goes to BLAS with the transpose as a flag, the bias is
/// added in the same output buffer, and the backward computes only the gradients that are
/// needed (a network's input rarely needs one).
///
/// - Parameters:
///   - input: `[..., inputFeatures]`.
///   - weight: `[outputFeatures, inputFeatures]`.
///   - bias: `[outputFeatures]`, or `nil`.
/// - Returns: `[..., outputFeatures]`.
public func linear(_ input: Tensor, weight: Tensor, bias: Tensor? = nil) -> Tensor {
    require(weight.rank == 2, "linear: weight must be [outputFeatures, inputFeatures], got \(weight.shape)")
    let inputFeatures = weight.shape[1], outputFeatures = weight.shape[0]
    require(input.rank >= 1 && input.shape[input.rank - 1] == inputFeatures,
            "linear: input \(input.shape) × weight \(weight.shape): the input's last dimension should be \(inputFeatures)")
    if let bias {
        require(bias.shape == [outputFeatures], "linear: bias shape \(bias.shape) should be [\(outputFeatures)]")
    }
    let outputShape = Array(input.shape.dropLast()) + [outputFeatures]
    let output = withNoGrad { () -> Tensor in
        let rows = input.rank == 2 ? input : input.reshaped([-1, inputFeatures])
        let product = rows.matmul(weight, transposingOther: true)
        if let bias { addRowVector(bias, to: product) }
        return product.reshaped(outputShape)
    }
    let needsGraph = GradMode.isEnabled && (input.requiresGrad || weight.requiresGrad || (bias?.requiresGrad ?? false))
    guard needsGraph else { return output }
    let inputs = bias.map { [input, weight, $0] } ?? [input, weight]
    return Tensor.recordOperation("linear", inputs: inputs, output: output,
                                  saving: Tensor.saved((weight, input), (input, weight))) { g in
        let g2 = g.rank == 2 ? g : g.reshaped([-1, outputFeatures])
        let gradInput = input.requiresGrad ? g2.matmul(weight).reshaped(input.shape) : nil
        var gradWeight: Tensor? = nil
        if weight.requiresGrad {
            let rows = input.rank == 2 ? input : input.reshaped([-1, inputFeatures])
            gradWeight = g2.matmul(rows, transposingSelf: true)
        }
        guard let bias else { return [gradInput, gradWeight] }
        return [gradInput, gradWeight, bias.requiresGrad ? columnSums(g2) : nil]
    }
}

/// Adds `vector` (`[n]`) to every row of the contiguous matrix `matrix` (`[m, n]`) in place.
func addRowVector(_ vector: Tensor, to matrix: Tensor) {
    let v = vector.dtype == matrix.dtype ? vector : vector.to(matrix.dtype)
    func run<T: TensorFloat>(_: T.Type) {
        v.withUnsafeBufferPointer(as: T.self) { b in
            matrix.withUnsafeMutableBufferPointer(as: T.self) { y in
                let n = b.count
                guard n > 0 else { return }
                let base = y.baseAddress!, bias = b.baseAddress!
                Parallelism.forEachChunk(of: y.count / n, cost: n) { rows in
                    for r in rows {
                        let row = base + r * n
                        for j in 0..<n { row[j] += bias[j] }
                    }
                }
            }
        }
    }
    switch matrix.dtype {
    case .float32: run(Float.self)
    case .float64: run(Double.self)
    default: fatalError("linear: needs floating-point tensors, got \(matrix.dtype)")
    }
}

/// The sums of the columns of a contiguous matrix `[m, n]`, as `[n]` (no graph). Threads take
/// blocks of columns, so each sum is still accumulated in row order.
func columnSums(_ matrix: Tensor) -> Tensor {
    let m = matrix.shape[0], n = matrix.shape[1]
    func run<T: TensorFloat>(_: T.Type) -> Tensor {
        matrix.withUnsafeBufferPointer(as: T.self) { x in
            Tensor(shape: [n]) { (out: UnsafeMutableBufferPointer<T>) in
                let source = x.baseAddress!, sums = out.baseAddress!
                let blocks = (n + 15) / 16
                Parallelism.forEachChunk(of: blocks, cost: 16 * m) { blockRange in
                    let columns = blockRange.lowerBound * 16 ..< Swift.min(n, blockRange.upperBound * 16)
                    for j in columns { sums[j] = 0 }
                    for i in 0..<m {
                        let row = source + i * n
                        for j in columns { sums[j] += row[j] }
                    }
                }
            }
        }
    }
    switch matrix.dtype {
    case .float32: return run(Float.self)
    case .float64: return run(Double.self)
    default: fatalError("columnSums: needs floating-point tensors, got \(matrix.dtype)")
    }
}

/// Zeroes each element with probability `probability` and scales the others by
/// 1 / (1 − probability), so the expected value is unchanged (torch's `dropout`); the identity
/// when `training` is false.
///
/// - Parameters:
///   - probability: the chance of zeroing an element, in [0, 1] (torch's default 0.5).
///   - training: apply dropout (`true`) or pass `input` through.
///   - generator: the source of the random mask; the default generator when `nil`.
public func dropout(_ input: Tensor, probability: Double = 0.5, training: Bool = true,
                    generator: Generator? = nil) -> Tensor {
    require((0...1).contains(probability), "dropout: probability \(probability) is outside [0, 1]")
    guard training && probability > 0 else { return input }
    if probability == 1 { return input * 0 }
    return input.droppingOut(probability: probability, generator: generator ?? .default)
}

/// Channel dropout (torch's `dropout1d`, `dropout2d` and `dropout3d`): in training mode each
/// whole channel, a `[L]`, `[H, W]` or `[D, H, W]` map, is zeroed with probability
/// `probability` and the others are scaled by 1 / (1 − probability); the identity otherwise.
/// Neighbouring activations of a convolution are strongly correlated, so dropping single
/// elements regularizes little; dropping channels does (Tompson et al., 2015).
///
/// The input is `[N, C, spatial…]` or, unbatched, `[C, spatial…]` with `spatialRank` spatial
/// dimensions. One uniform draw per channel, batch-major, decides (kept when the draw is at
/// least `probability`). torch reads a 3-D input to `dropout2d` as a batch of 1-D maps, with a
/// warning that this will change; Luz takes the documented reading, an unbatched `[C, H, W]`.
public func channelDropout(_ input: Tensor, probability: Double = 0.5, spatialRank: Int, training: Bool = true,
                           generator: Generator? = nil) -> Tensor {
    let op = "dropout\(spatialRank)d"
    require((0...1).contains(probability), "\(op): probability \(probability) is outside [0, 1]")
    require(input.rank == spatialRank + 1 || input.rank == spatialRank + 2,
            "\(op): input \(input.shape) should be [N, C, \(spatialRank)-D map] or [C, \(spatialRank)-D map]")
    require(input.dtype.isFloatingPoint, "\(op): needs a floating-point tensor, got \(input.dtype)")
    guard training && probability > 0 else { return input }
    if probability == 1 { return input * 0 }
    let channelDims = input.rank - spatialRank
    let maskShape = Array(input.shape.prefix(channelDims)) + Array(repeating: 1, count: spatialRank)
    let draws = Tensor.rand(maskShape, dtype: .float64, generator: generator ?? .default)
    let mask = (draws .>= probability).to(input.dtype) * (1 / (1 - probability))
    return input * mask
}

/// Batch normalization (torch's `batch_norm`) over the channel dimension 1 of `input`
/// (`[N, C]`, `[N, C, L]` or `[N, C, H, W]`).
///
/// In training mode (or without running statistics) each channel is normalized with the
/// batch's mean and biased variance, and the running statistics, when given, are updated in
/// place: `running = (1 − momentum)·running + momentum·batch`, with the *unbiased* variance,
/// as torch does. In evaluation mode the running statistics are used.
///
/// - Parameters:
///   - runningMean, runningVariance: `[C]` buffers, or `nil` to always use batch statistics.
///   - weight, bias: the affine `[C]` parameters, or `nil`.
///   - training: use (and update) batch statistics.
///   - momentum: the running-average factor (torch's 0.1).
///   - epsilon: added to the variance (torch's 1e-5).
public func batchNorm(_ input: Tensor, runningMean: Tensor?, runningVariance: Tensor?,
                      weight: Tensor? = nil, bias: Tensor? = nil, training: Bool,
                      momentum: Double = 0.1, epsilon: Double = 1e-5) -> Tensor {
    require(input.rank >= 2, "batchNorm: input must be [N, C, ...], got \(input.shape)")
    let channels = input.shape[1]
    var statShape = [Int](repeating: 1, count: input.rank)
    statShape[1] = channels
    let dims = [0] + Array(2..<input.rank)
    let normalized: Tensor
    if training || runningMean == nil || runningVariance == nil {
        let n = input.count / Swift.max(channels, 1)
        require(n > 1 || !training, "batchNorm: expected more than 1 value per channel when training, got input \(input.shape)")
        let mean = input.mean(dims: dims, keepDim: true)
        let centered = input - mean
        let variance = (centered * centered).mean(dims: dims, keepDim: true)
        normalized = centered / (variance + epsilon).sqrt()
        if training, let runningMean, let runningVariance {
            withNoGrad {
                let unbiased = variance * (Double(n) / Double(Swift.max(n - 1, 1)))
                runningMean.multiplyInPlace(runningMean.scalarTensor(1 - momentum))
                runningMean.addInPlace(mean.reshaped([channels]).to(runningMean.dtype), alpha: momentum)
                runningVariance.multiplyInPlace(runningVariance.scalarTensor(1 - momentum))
                runningVariance.addInPlace(unbiased.reshaped([channels]).to(runningVariance.dtype), alpha: momentum)
            }
        }
    } else {
        let mean = runningMean!.reshaped(statShape).to(input.dtype)
        let variance = runningVariance!.reshaped(statShape).to(input.dtype)
        normalized = (input - mean) / (variance + epsilon).sqrt()
    }
    var output = normalized
    if let weight { output = output * weight.reshaped(statShape) }
    if let bias { output = output + bias.reshaped(statShape) }
    return output
}

extension Tensor {
    /// A 0-dimensional tensor of this tensor's dtype holding `value`.
    func scalarTensor(_ value: Double) -> Tensor { Tensor.full([], value: value, dtype: dtype) }
}
