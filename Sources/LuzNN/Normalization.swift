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
    public var weight: Tensor? { didSet { invalidateMemberCache() } }
    /// The elementwise shift, `normalizedShape`, or `nil`.
    public var bias: Tensor? { didSet { invalidateMemberCache() } }

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
    public var weight: Tensor? { didSet { invalidateMemberCache() } }

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
