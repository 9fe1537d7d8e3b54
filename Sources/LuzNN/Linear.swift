import LuzTensor

/// A fully connected layer, `y = x·weightᵀ + bias` over the last dimension (torch's `nn.Linear`).
///
/// Initialized like torch: weight and bias from U(−1/√inputFeatures, 1/√inputFeatures)
/// (Kaiming uniform with a = √5 for the weight).
public final class Linear: Module {
    /// The weight, `[outputFeatures, inputFeatures]`.
    public var weight: Tensor
    /// The bias, `[outputFeatures]`, or `nil` for a layer without one.
    public var bias: Tensor?

    /// The size of each input's last dimension.
    public var inputFeatures: Int { weight.shape[1] }
    /// The size of each output's last dimension.
    public var outputFeatures: Int { weight.shape[0] }

    /// Creates a layer mapping `inputFeatures` to `outputFeatures`.
    ///
    /// - Parameters:
    ///   - bias: whether to learn an additive bias (torch's default `true`).
    ///   - dtype: the parameters' element type (float32 by default; float64 for gradient checks).
    ///   - generator: the source of the initial values (the default generator when `nil`).
    public init(_ inputFeatures: Int, _ outputFeatures: Int, bias: Bool = true,
                dtype: DType = .float32, generator: Generator? = nil) {
        require(inputFeatures >= 0 && outputFeatures >= 0,
                "Linear: feature counts must be non-negative, got \(inputFeatures) and \(outputFeatures)")
        weight = Tensor.zeros([outputFeatures, inputFeatures], dtype: dtype, requiresGrad: true)
        self.bias = bias ? Tensor.zeros([outputFeatures], dtype: dtype, requiresGrad: true) : nil
        super.init()
        Initializer.layerDefault(weight: weight, bias: self.bias, generator: generator)
    }

    /// Creates a layer from given parameters (which should require gradients to be trained).
    public init(weight: Tensor, bias: Tensor? = nil) {
        require(weight.rank == 2, "Linear: weight must be [outputFeatures, inputFeatures], got \(weight.shape)")
        self.weight = weight
        self.bias = bias
        super.init()
    }

    /// `x·weightᵀ + bias`.
    public override func forward(_ input: Tensor) -> Tensor {
        linear(input, weight: weight, bias: bias)
    }

    public override var configurationDescription: String {
        "inputFeatures: \(inputFeatures), outputFeatures: \(outputFeatures), bias: \(bias != nil)"
    }
}
