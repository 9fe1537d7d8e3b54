import LuzTensor

/// Layer normalization over the trailing dimensions `normalizedShape` (torch's `nn.LayerNorm`):
/// each slice is shifted to mean 0 and scaled to unit (biased) variance, then multiplied by
/// `weight` and shifted by `bias` elementwise:
/// ```
/// y = (x − mean(x)) / √(var(x) + ε) · weight + bias
/// ```
/// Runs the fused kernel of ``LuzTensor/Tensor/layerNormalized(normalizedShape:weight:bias:epsilon:)``.
/// Parameters `weight` (ones) and `bias` (zeros), named as in torch.
public final class LayerNorm: Module {
    /// The trailing shape normalized over.
    public let normalizedShape: [Int]
    /// ε, added to the variance (torch's 1e-5).
    public var epsilon: Double
    /// The elementwise scale, `normalizedShape`, or `nil` without affine parameters.
    public var weight: Tensor?
    /// The elementwise shift, `normalizedShape`, or `nil`.
    public var bias: Tensor?

    /// Creates the layer.
    ///
    /// - Parameters:
    ///   - normalizedShape: the trailing dimensions of the input to normalize over.
    ///   - epsilon: added to the variance (torch's default 1e-5).
    ///   - elementwiseAffine: learn `weight` (and `bias`) (torch's default `true`).
    ///   - bias: learn the shift too (torch's default `true`; ignored without affine parameters).
    ///   - dtype: the parameters' element type.
    public init(_ normalizedShape: [Int], epsilon: Double = 1e-5, elementwiseAffine: Bool = true, bias: Bool = true,
                dtype: DType = .float32) {
        require(!normalizedShape.isEmpty && normalizedShape.allSatisfy { $0 > 0 },
                "LayerNorm: invalid normalized shape \(normalizedShape)")
        self.normalizedShape = normalizedShape
        self.epsilon = epsilon
        if elementwiseAffine {
            weight = Tensor.ones(normalizedShape, dtype: dtype, requiresGrad: true)
            self.bias = bias ? Tensor.zeros(normalizedShape, dtype: dtype, requiresGrad: true) : nil
        }
        super.init()
    }

    /// Creates the layer normalizing the last dimension, of size `features`.
    public convenience init(_ features: Int, epsilon: Double = 1e-5, elementwiseAffine: Bool = true, bias: Bool = true,
                            dtype: DType = .float32) {
        self.init([features], epsilon: epsilon, elementwiseAffine: elementwiseAffine, bias: bias, dtype: dtype)
    }

    /// The normalized input.
    public override func forward(_ input: Tensor) -> Tensor {
        input.layerNormalized(normalizedShape: normalizedShape, weight: weight, bias: bias, epsilon: epsilon)
    }

    public override var configurationDescription: String {
        "\(normalizedShape), epsilon: \(epsilon), elementwiseAffine: \(weight != nil)"
    }
}

/// Root-mean-square normalization over the trailing dimensions `normalizedShape` (torch's
/// `rms_norm`): each slice is divided by its root mean square, then multiplied by `weight`:
/// ```
/// y = x / √(mean(x²) + ε) · weight
/// ```
/// No centring and no bias, unlike layer normalization.
///
/// - Parameters:
///   - normalizedShape: the trailing dimensions of `input` to normalize over.
///   - weight: the elementwise scale of shape `normalizedShape`, or `nil`.
///   - epsilon: added to the mean square; `nil` uses the machine epsilon of the input's type,
///     as torch does (1.19e-7 for float32, 2.22e-16 for float64).
public func rmsNorm(_ input: Tensor, normalizedShape: [Int], weight: Tensor? = nil, epsilon: Double? = nil) -> Tensor {
    require(!normalizedShape.isEmpty && normalizedShape.count <= input.rank
                    && Array(input.shape.suffix(normalizedShape.count)) == normalizedShape,
            "rmsNorm: normalized shape \(normalizedShape) does not end the input shape \(input.shape)")
    if let weight {
        require(weight.shape == normalizedShape,
                "rmsNorm: weight shape \(weight.shape) should be \(normalizedShape)")
    }
    let eps = epsilon ?? (input.dtype == .float64 ? Double.ulpOfOne : Double(Float.ulpOfOne))
    let dims = Array((input.rank - normalizedShape.count)..<input.rank)
    let meanSquare = (input * input).mean(dims: dims, keepDim: true)
    let normalized = input / (meanSquare + eps).sqrt()
    return weight.map { normalized * $0 } ?? normalized
}

/// Root-mean-square normalization over the trailing dimensions `normalizedShape` (torch's
/// `nn.RMSNorm`): `y = x / √(mean(x²) + ε) · weight`, with `weight` (ones) named as in torch.
///
/// Cheaper than ``LayerNorm`` (no mean subtraction, no bias); used by many recent transformers.
public final class RMSNorm: Module {
    /// The trailing shape normalized over.
    public let normalizedShape: [Int]
    /// ε, added to the mean square; `nil` for the machine epsilon of the input's type (torch's default).
    public var epsilon: Double?
    /// The elementwise scale, `normalizedShape`, or `nil` without affine parameters.
    public var weight: Tensor?

    /// Creates the layer.
    ///
    /// - Parameters:
    ///   - normalizedShape: the trailing dimensions of the input to normalize over.
    ///   - epsilon: added to the mean square; `nil` (torch's default) uses the machine epsilon
    ///     of the input's type.
    ///   - elementwiseAffine: learn `weight` (torch's default `true`).
    ///   - dtype: the parameters' element type.
    public init(_ normalizedShape: [Int], epsilon: Double? = nil, elementwiseAffine: Bool = true, dtype: DType = .float32) {
        require(!normalizedShape.isEmpty && normalizedShape.allSatisfy { $0 > 0 },
                "RMSNorm: invalid normalized shape \(normalizedShape)")
        self.normalizedShape = normalizedShape
        self.epsilon = epsilon
        if elementwiseAffine { weight = Tensor.ones(normalizedShape, dtype: dtype, requiresGrad: true) }
        super.init()
    }

    /// Creates the layer normalizing the last dimension, of size `features`.
    public convenience init(_ features: Int, epsilon: Double? = nil, elementwiseAffine: Bool = true,
                            dtype: DType = .float32) {
        self.init([features], epsilon: epsilon, elementwiseAffine: elementwiseAffine, dtype: dtype)
    }

    /// The normalized input.
    public override func forward(_ input: Tensor) -> Tensor {
        rmsNorm(input, normalizedShape: normalizedShape, weight: weight, epsilon: epsilon)
    }

    public override var configurationDescription: String {
        "\(normalizedShape), epsilon: \(epsilon.map { "\($0)" } ?? "nil"), elementwiseAffine: \(weight != nil)"
    }
}

/// Group normalization (torch's `nn.GroupNorm`): the channels of each example, in
/// `groupCount` groups of consecutive channels, are shifted to mean 0 and scaled to unit
/// (biased) variance over the group and every position, then scaled and shifted per channel:
/// ```
/// y = (x − mean_group(x)) / √(var_group(x) + ε) · weight[c] + bias[c]
/// ```
/// Inputs are `[batch, channels, …]`. Parameters `weight` (ones) and `bias` (zeros), `[channels]`,
/// named as in torch. Runs layer normalization's fused kernel on each group.
public final class GroupNorm: Module {
    /// The number of groups the channels are split into.
    public let groupCount: Int
    /// The number of channels.
    public let channelCount: Int
    /// ε, added to the variance (torch's 1e-5).
    public var epsilon: Double
    /// The per-channel scale, `[channels]`, or `nil` without affine parameters.
    public var weight: Tensor?
    /// The per-channel shift, `[channels]`, or `nil`.
    public var bias: Tensor?

    /// Creates the layer.
    ///
    /// - Parameters:
    ///   - groupCount: how many groups; must divide `channelCount` (torch's `num_groups`).
    ///   - affine: learn `weight` and `bias` (torch's default `true`).
    public init(groupCount: Int, channelCount: Int, epsilon: Double = 1e-5, affine: Bool = true, dtype: DType = .float32) {
        require(groupCount > 0 && channelCount > 0 && channelCount % groupCount == 0,
                "GroupNorm: \(channelCount) channels do not split into \(groupCount) groups")
        self.groupCount = groupCount
        self.channelCount = channelCount
        self.epsilon = epsilon
        (weight, bias) = channelAffine(affine, channelCount, dtype)
        super.init()
    }

    /// The normalized input.
    public override func forward(_ input: Tensor) -> Tensor {
        groupNormalized(input, groups: groupCount, channels: channelCount, weight: weight, bias: bias, epsilon: epsilon,
                        layer: "GroupNorm")
    }

    public override var configurationDescription: String {
        "groupCount: \(groupCount), channelCount: \(channelCount), epsilon: \(epsilon), affine: \(weight != nil)"
    }
}

/// Instance normalization over each channel of each example (torch's `nn.InstanceNorm1d` and
/// `nn.InstanceNorm2d`, with their defaults: no affine parameters, no running statistics):
/// group normalization with one channel per group. Inputs are `[batch, channels, length]` or
/// `[batch, channels, height, width]`. Running statistics (torch's `track_running_stats`) are
/// not offered: every mode normalizes with the example's own statistics.
public final class InstanceNorm: Module {
    /// The number of channels.
    public let channelCount: Int
    /// ε, added to the variance (torch's 1e-5).
    public var epsilon: Double
    /// The per-channel scale, `[channels]`, when `affine`.
    public var weight: Tensor?
    /// The per-channel shift, `[channels]`, when `affine`.
    public var bias: Tensor?

    /// Creates the layer.
    ///
    /// - Parameter affine: learn a per-channel `weight` and `bias` (torch's default `false`).
    public init(channelCount: Int, epsilon: Double = 1e-5, affine: Bool = false, dtype: DType = .float32) {
        require(channelCount > 0, "InstanceNorm: channelCount must be positive, got \(channelCount)")
        self.channelCount = channelCount
        self.epsilon = epsilon
        (weight, bias) = channelAffine(affine, channelCount, dtype)
        super.init()
    }

    /// The normalized input.
    public override func forward(_ input: Tensor) -> Tensor {
        groupNormalized(input, groups: channelCount, channels: channelCount, weight: weight, bias: bias, epsilon: epsilon,
                        layer: "InstanceNorm")
    }

    public override var configurationDescription: String {
        "channelCount: \(channelCount), epsilon: \(epsilon), affine: \(weight != nil)"
    }
}

/// A per-channel scale (ones) and shift (zeros) that learn, or none.
private func channelAffine(_ affine: Bool, _ channels: Int, _ dtype: DType) -> (Tensor?, Tensor?) {
    guard affine else { return (nil, nil) }
    return (Tensor.ones([channels], dtype: dtype, requiresGrad: true), Tensor.zeros([channels], dtype: dtype, requiresGrad: true))
}

/// `input` `[batch, channels, …]` normalized per example over groups of consecutive channels
/// and all positions, then scaled and shifted per channel (torch's `group_norm`).
public func groupNormalized(_ input: Tensor, groups: Int, channels: Int, weight: Tensor?, bias: Tensor?,
                            epsilon: Double = 1e-5, layer: String = "groupNorm") -> Tensor {
    require(input.rank >= 2 && input.shape[1] == channels,
            "\(layer): input must be [batch, \(channels), …], got \(input.shape)")
    let batch = input.shape[0]
    let perGroup = input.count / Swift.max(batch * groups, 1)
    let grouped = input.reshaped([batch, groups, perGroup])
        .layerNormalized(normalizedShape: [perGroup], weight: nil, bias: nil, epsilon: epsilon)
        .reshaped(input.shape)
    let channelShape = [1, channels] + Array(repeating: 1, count: input.rank - 2)
    var output = grouped
    if let weight { output = output * weight.reshaped(channelShape) }
    if let bias { output = output + bias.reshaped(channelShape) }
    return output
}

/// Rearranges `[batch, channels·r², height, width]` into `[batch, channels, height·r, width·r]`
/// (torch's `nn.PixelShuffle` with upscale factor r): sub-pixel upsampling.
public final class PixelShuffle: Module {
    /// The upscale factor r.
    public let factor: Int

    /// Creates the layer with upscale factor `factor`.
    public init(_ factor: Int) {
        require(factor > 0, "PixelShuffle: the factor must be positive, got \(factor)")
        self.factor = factor
        super.init()
    }

    /// The rearranged input.
    public override func forward(_ input: Tensor) -> Tensor {
        let r = factor
        require(input.rank == 4 && input.shape[1] % (r * r) == 0,
                "PixelShuffle: input must be [batch, channels·\(r * r), height, width], got \(input.shape)")
        let (n, c, h, w) = (input.shape[0], input.shape[1] / (r * r), input.shape[2], input.shape[3])
        return input.reshaped([n, c, r, r, h, w]).permuted([0, 1, 4, 2, 5, 3]).reshaped([n, c, h * r, w * r])
    }

    public override var configurationDescription: String { "factor: \(factor)" }
}

/// The inverse of ``PixelShuffle`` (torch's `nn.PixelUnshuffle`): `[batch, channels, height·r,
/// width·r]` into `[batch, channels·r², height, width]`.
public final class PixelUnshuffle: Module {
    /// The downscale factor r.
    public let factor: Int

    /// Creates the layer with downscale factor `factor`.
    public init(_ factor: Int) {
        require(factor > 0, "PixelUnshuffle: the factor must be positive, got \(factor)")
        self.factor = factor
        super.init()
    }

    /// The rearranged input.
    public override func forward(_ input: Tensor) -> Tensor {
        let r = factor
        require(input.rank == 4 && input.shape[2] % r == 0 && input.shape[3] % r == 0,
                "PixelUnshuffle: input must be [batch, channels, height·\(r), width·\(r)], got \(input.shape)")
        let (n, c, h, w) = (input.shape[0], input.shape[1], input.shape[2] / r, input.shape[3] / r)
        return input.reshaped([n, c, h, r, w, r]).permuted([0, 1, 3, 5, 2, 4]).reshaped([n, c * r * r, h, w])
    }

    public override var configurationDescription: String { "factor: \(factor)" }
}
