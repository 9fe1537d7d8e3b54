import LuzTensor

/// Weight initialization schemes (torch's `nn.init`). Each fills a tensor in place, without
/// recording gradients, so a parameter keeps its identity; each takes an optional
/// ``Generator`` (the default generator when `nil`) for reproducible initialization.
///
/// The built-in layers use torch's defaults: ``Linear`` and the convolutions draw weights with
/// ``kaimingUniform(_:a:mode:nonlinearity:generator:)`` with `a = √5` (which works out to
/// U(−1/√fanIn, 1/√fanIn)) and biases from U(−1/√fanIn, 1/√fanIn).
public enum Initializer {
    /// Which fan a Kaiming initialization preserves the variance of.
    public enum FanMode: Sendable {
        /// The number of inputs of a unit: preserves the variance of activations (forward).
        case fanIn
        /// The number of outputs: preserves the variance of gradients (backward).
        case fanOut
    }

    /// The nonlinearity a layer feeds, for ``gain(for:parameter:)``.
    public enum Nonlinearity: Sendable {
        /// No nonlinearity (also convolutions): gain 1.
        case linear
        /// The logistic function: gain 1.
        case sigmoid
        /// The hyperbolic tangent: gain 5/3.
        case tanh
        /// ReLU: gain √2.
        case relu
        /// SELU: gain 3/4.
        case selu
        /// Leaky ReLU; its slope is the `parameter` of ``gain(for:parameter:)`` or the `a` of
        /// the Kaiming initializers.
        case leakyRelu
    }

    /// The recommended gain for a nonlinearity (torch's `calculate_gain`): 1 for linear and
    /// sigmoid, 5/3 for tanh, √2 for ReLU, √(2 / (1 + slope²)) for leaky ReLU (slope 0.01 when
    /// `parameter` is `nil`), 3/4 for SELU.
    public static func gain(for nonlinearity: Nonlinearity, parameter: Double? = nil) -> Double {
        switch nonlinearity {
        case .linear, .sigmoid: return 1
        case .tanh: return 5.0 / 3.0
        case .relu: return 2.0.squareRoot()
        case .leakyRelu:
            let slope = parameter ?? 0.01
            return (2 / (1 + slope * slope)).squareRoot()
        case .selu: return 0.75
        }
    }

    /// The fan-in and fan-out of a weight of shape `[out, in, k...]`: `in·Πk` and `out·Πk`
    /// (torch's `_calculate_fan_in_and_fan_out`).
    public static func fans(of shape: [Int]) -> (fanIn: Int, fanOut: Int) {
        require(shape.count >= 2, "fans: need at least 2 dimensions, got shape \(shape)")
        let receptive = shape.dropFirst(2).reduce(1, *)
        return (shape[1] * receptive, shape[0] * receptive)
    }

    /// Fills `tensor` from U(low, high).
    public static func uniform(_ tensor: Tensor, low: Double = 0, high: Double = 1, generator: Generator? = nil) {
        let values = Tensor.uniform(tensor.shape, low: low, high: high, dtype: floatType(tensor), generator: generator)
        withNoGrad { tensor.copy(from: values) }
    }

    /// Fills `tensor` from N(mean, std²).
    public static func normal(_ tensor: Tensor, mean: Double = 0, std: Double = 1, generator: Generator? = nil) {
        let values = Tensor.normal(tensor.shape, mean: mean, std: std, dtype: floatType(tensor), generator: generator)
        withNoGrad { tensor.copy(from: values) }
    }

    /// Fills `tensor` with `value`.
    public static func constant(_ tensor: Tensor, value: Double) {
        withNoGrad { tensor.fill(value) }
    }

    /// Fills `tensor` with zeros.
    public static func zeros(_ tensor: Tensor) { constant(tensor, value: 0) }

    /// Fills `tensor` with ones.
    public static func ones(_ tensor: Tensor) { constant(tensor, value: 1) }

    /// Glorot / Xavier uniform: U(−b, b) with b = gain·√(6 / (fanIn + fanOut)).
    public static func xavierUniform(_ tensor: Tensor, gain: Double = 1, generator: Generator? = nil) {
        let (fanIn, fanOut) = fans(of: tensor.shape)
        let bound = gain * (6 / Double(fanIn + fanOut)).squareRoot()
        uniform(tensor, low: -bound, high: bound, generator: generator)
    }

    /// Glorot / Xavier normal: N(0, σ²) with σ = gain·√(2 / (fanIn + fanOut)).
    public static func xavierNormal(_ tensor: Tensor, gain: Double = 1, generator: Generator? = nil) {
        let (fanIn, fanOut) = fans(of: tensor.shape)
        normal(tensor, std: gain * (2 / Double(fanIn + fanOut)).squareRoot(), generator: generator)
    }

    /// He / Kaiming uniform: U(−b, b) with b = gain·√(3 / fan), gain from
    /// ``gain(for:parameter:)`` with slope `a`. torch's defaults: `a = 0`, fan-in, leaky ReLU
    /// (so gain √2).
    public static func kaimingUniform(_ tensor: Tensor, a: Double = 0, mode: FanMode = .fanIn,
                                      nonlinearity: Nonlinearity = .leakyRelu, generator: Generator? = nil) {
        let std = kaimingStd(tensor.shape, a: a, mode: mode, nonlinearity: nonlinearity)
        let bound = 3.0.squareRoot() * std
        uniform(tensor, low: -bound, high: bound, generator: generator)
    }

    /// He / Kaiming normal: N(0, σ²) with σ = gain / √fan (same defaults as
    /// ``kaimingUniform(_:a:mode:nonlinearity:generator:)``).
    public static func kaimingNormal(_ tensor: Tensor, a: Double = 0, mode: FanMode = .fanIn,
                                     nonlinearity: Nonlinearity = .leakyRelu, generator: Generator? = nil) {
        normal(tensor, std: kaimingStd(tensor.shape, a: a, mode: mode, nonlinearity: nonlinearity), generator: generator)
    }

    private static func kaimingStd(_ shape: [Int], a: Double, mode: FanMode, nonlinearity: Nonlinearity) -> Double {
        let (fanIn, fanOut) = fans(of: shape)
        let fan = mode == .fanIn ? fanIn : fanOut
        require(fan > 0, "kaiming: zero fan for shape \(shape)")
        return gain(for: nonlinearity, parameter: a) / Double(fan).squareRoot()
    }

    /// torch's default initialization of a Linear or convolution layer: the weight from
    /// Kaiming uniform with `a = √5` (that is, U(−1/√fanIn, 1/√fanIn)), the bias from
    /// U(−1/√fanIn, 1/√fanIn).
    public static func layerDefault(weight: Tensor, bias: Tensor?, generator: Generator? = nil) {
        kaimingUniform(weight, a: 5.0.squareRoot(), generator: generator)
        if let bias {
            let fanIn = fans(of: weight.shape).fanIn
            let bound = fanIn > 0 ? 1 / Double(fanIn).squareRoot() : 0
            uniform(bias, low: -bound, high: bound, generator: generator)
        }
    }

    private static func floatType(_ tensor: Tensor) -> DType {
        require(tensor.dtype.isFloatingPoint, "initializer: needs a floating-point tensor, got \(tensor.dtype)")
        return tensor.dtype
    }
}
