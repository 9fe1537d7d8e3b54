import LuzTensor

/// The shared implementation of ``BatchNorm1d`` and ``BatchNorm2d``.
///
/// Parameters `weight` (γ, ones) and `bias` (β, zeros) when `affine`; buffers
/// `running_mean` (zeros), `running_var` (ones) and `num_batches_tracked` (an int64 count) when
/// tracking running statistics, named as in torch so weights move between the two.
open class BatchNormBase: Module {
    /// The number of channels (dimension 1 of the input).
    public let numFeatures: Int
    /// Added to the variance before the square root (torch's 1e-5).
    public var epsilon: Double
    /// The running-average factor (torch's 0.1), or `nil` for a cumulative average over all
    /// batches seen.
    public var momentum: Double?
    /// The scale γ, `[numFeatures]`, or `nil` without affine parameters.
    public var weight: Tensor?
    /// The shift β, `[numFeatures]`, or `nil` without affine parameters.
    public var bias: Tensor?
    /// The running mean, used in evaluation mode.
    @Buffer(key: "running_mean") public var runningMean: Tensor? = nil
    /// The running (unbiased) variance, used in evaluation mode.
    @Buffer(key: "running_var") public var runningVariance: Tensor? = nil
    /// The number of training batches seen.
    @Buffer(key: "num_batches_tracked") public var batchesTracked: Tensor? = nil

    /// Creates the layer.
    ///
    /// - Parameters:
    ///   - numFeatures: the number of channels.
    ///   - epsilon: added to the variance (torch's 1e-5).
    ///   - momentum: the running-average factor (torch's 0.1); `nil` for a cumulative average.
    ///   - affine: learn a per-channel scale and shift (torch's default `true`).
    ///   - trackRunningStatistics: keep running statistics for evaluation (torch's default
    ///     `true`); without them batch statistics are used in both modes.
    ///   - dtype: the parameters' element type.
    public init(_ numFeatures: Int, epsilon: Double = 1e-5, momentum: Double? = 0.1, affine: Bool = true,
                trackRunningStatistics: Bool = true, dtype: DType = .float32) {
        self.numFeatures = numFeatures
        self.epsilon = epsilon
        self.momentum = momentum
        super.init()
        if affine {
            weight = Tensor.ones([numFeatures], dtype: dtype, requiresGrad: true)
            bias = Tensor.zeros([numFeatures], dtype: dtype, requiresGrad: true)
        }
        if trackRunningStatistics {
            runningMean = Tensor.zeros([numFeatures], dtype: dtype)
            runningVariance = Tensor.ones([numFeatures], dtype: dtype)
            batchesTracked = Tensor.zeros([], dtype: .int64)
        }
    }

    /// The input ranks the layer accepts.
    var acceptedRanks: Set<Int> { [2, 3, 4] }

    public override func forward(_ input: Tensor) -> Tensor {
        require(acceptedRanks.contains(input.rank),
                "\(typeName): expected an input of rank \(acceptedRanks.sorted().map(String.init).joined(separator: " or ")), got shape \(input.shape)")
        require(input.shape[1] == numFeatures,
                "\(typeName): expected \(numFeatures) channels in dimension 1, got shape \(input.shape)")
        var factor = momentum ?? 0
        if isTraining, let batchesTracked {
            withNoGrad { batchesTracked.withUnsafeMutableBufferPointer(as: Int64.self) { $0[0] += 1 } }
            if momentum == nil { factor = 1 / Double(batchesTracked.item) }
        }
        return batchNorm(input, runningMean: runningMean, runningVariance: runningVariance,
                         weight: weight, bias: bias, training: isTraining || runningMean == nil,
                         momentum: factor, epsilon: epsilon)
    }

    public override var configurationDescription: String {
        "\(numFeatures), epsilon: \(epsilon), momentum: \(momentum.map { "\($0)" } ?? "nil"), affine: \(weight != nil), trackRunningStatistics: \(runningMean != nil)"
    }
}

/// Batch normalization of `[N, C]` or `[N, C, L]` inputs over the batch (and length) for each
/// channel (torch's `nn.BatchNorm1d`); see ``BatchNormBase``.
public final class BatchNorm1d: BatchNormBase {
    override var acceptedRanks: Set<Int> { [2, 3] }
}

/// Batch normalization of `[N, C, H, W]` inputs over the batch and positions for each channel
/// (torch's `nn.BatchNorm2d`); see ``BatchNormBase``.
public final class BatchNorm2d: BatchNormBase {
    override var acceptedRanks: Set<Int> { [4] }
}
