import LuzTensor

/// max(x, 0) elementwise (torch's `nn.ReLU`).
public final class ReLU: Module {
    /// Creates the layer.
    public override init() { super.init() }
    public override func forward(_ input: Tensor) -> Tensor { input.relu() }
}

/// x for x > 0 and `negativeSlope`·x otherwise (torch's `nn.LeakyReLU`, slope 0.01 by default).
public final class LeakyReLU: Module {
    /// The slope for negative inputs.
    public var negativeSlope: Double

    /// Creates the layer with the given slope for negative inputs.
    public init(negativeSlope: Double = 0.01) {
        self.negativeSlope = negativeSlope
        super.init()
    }

    public override func forward(_ input: Tensor) -> Tensor { input.leakyRelu(negativeSlope: negativeSlope) }
    public override var configurationDescription: String { "negativeSlope: \(negativeSlope)" }
}

/// The hyperbolic tangent elementwise (torch's `nn.Tanh`).
public final class Tanh: Module {
    /// Creates the layer.
    public override init() { super.init() }
    public override func forward(_ input: Tensor) -> Tensor { input.tanh() }
}

/// The logistic function 1 / (1 + e^−x) elementwise (torch's `nn.Sigmoid`).
public final class Sigmoid: Module {
    /// Creates the layer.
    public override init() { super.init() }
    public override func forward(_ input: Tensor) -> Tensor { input.sigmoid() }
}

/// (1 / β)·log(1 + e^(β·x)) elementwise, and x where β·x exceeds `threshold` (torch's
/// `nn.Softplus`, β = 1 and threshold 20 by default).
public final class Softplus: Module {
    /// The sharpness β; larger values approach relu.
    public var beta: Double
    /// The value of β·x above which the function is taken as linear.
    public var threshold: Double

    /// Creates the layer with torch's defaults.
    public init(beta: Double = 1, threshold: Double = 20) {
        self.beta = beta
        self.threshold = threshold
        super.init()
    }

    public override func forward(_ input: Tensor) -> Tensor { input.softplus(beta: beta, threshold: threshold) }
    public override var configurationDescription: String { "beta: \(beta), threshold: \(threshold)" }
}

/// GELU, x·Φ(x) (torch's `nn.GELU`; exact by default, or the tanh approximation).
public final class GELU: Module {
    /// Whether to use the tanh approximation (torch's `approximate="tanh"`).
    public var approximateTanh: Bool

    /// Creates the layer.
    public init(approximateTanh: Bool = false) {
        self.approximateTanh = approximateTanh
        super.init()
    }

    public override func forward(_ input: Tensor) -> Tensor { input.gelu(approximateTanh: approximateTanh) }
    public override var configurationDescription: String { approximateTanh ? "approximate: tanh" : "" }
}

/// exp(x) / Σ exp(x) along a dimension (torch's `nn.Softmax`).
public final class Softmax: Module {
    /// The dimension that sums to 1.
    public var dim: Int

    /// Creates the layer normalizing along `dim`.
    public init(dim: Int) {
        self.dim = dim
        super.init()
    }

    public override func forward(_ input: Tensor) -> Tensor { input.softmax(dim: dim) }
    public override var configurationDescription: String { "dim: \(dim)" }
}

/// log(softmax(x)) along a dimension, computed stably (torch's `nn.LogSoftmax`).
public final class LogSoftmax: Module {
    /// The dimension normalized over.
    public var dim: Int

    /// Creates the layer normalizing along `dim`.
    public init(dim: Int) {
        self.dim = dim
        super.init()
    }

    public override func forward(_ input: Tensor) -> Tensor { input.logSoftmax(dim: dim) }
    public override var configurationDescription: String { "dim: \(dim)" }
}

/// Passes its input through unchanged (torch's `nn.Identity`): a placeholder where a layer is
/// optional.
public final class Identity: Module {
    /// Creates the layer.
    public override init() { super.init() }
    public override func forward(_ input: Tensor) -> Tensor { input }
}

/// Merges dimensions `startDim` through `endDim` (torch's `nn.Flatten`: from 1, keeping the
/// batch dimension, to the last).
public final class Flatten: Module {
    /// The first dimension merged.
    public var startDim: Int
    /// The last dimension merged.
    public var endDim: Int

    /// Creates the layer.
    public init(startDim: Int = 1, endDim: Int = -1) {
        self.startDim = startDim
        self.endDim = endDim
        super.init()
    }

    public override func forward(_ input: Tensor) -> Tensor { input.flattened(from: startDim, through: endDim) }
    public override var configurationDescription: String { "startDim: \(startDim), endDim: \(endDim)" }
}

/// Zeroes each element with probability `probability` in training mode, scaling the rest by
/// 1 / (1 − probability); the identity in evaluation mode (torch's `nn.Dropout`, p = 0.5).
public final class Dropout: Module {
    /// The chance of zeroing an element.
    public var probability: Double
    /// The source of the masks; the default generator when `nil`.
    public var generator: Generator?

    /// Creates the layer.
    public init(probability: Double = 0.5, generator: Generator? = nil) {
        require((0...1).contains(probability), "Dropout: probability \(probability) is outside [0, 1]")
        self.probability = probability
        self.generator = generator
        super.init()
    }

    public override func forward(_ input: Tensor) -> Tensor {
        dropout(input, probability: probability, training: isTraining, generator: generator)
    }

    public override var ownGenerators: [(name: String, generator: Generator)] {
        generator.map { [("generator", $0)] } ?? []
    }

    public override var configurationDescription: String { "probability: \(probability)" }
}

/// Zeroes whole channels of `[N, C, L]` (or `[C, L]`) sequences in training mode (torch's
/// `nn.Dropout1d`, p = 0.5); see ``channelDropout(_:probability:spatialRank:training:generator:)``.
public final class Dropout1d: ChannelDropoutLayer {
    /// Creates the layer.
    public init(probability: Double = 0.5, generator: Generator? = nil) {
        super.init(probability: probability, spatialRank: 1, generator: generator)
    }
}

/// Zeroes whole channels of `[N, C, H, W]` (or `[C, H, W]`) feature maps in training mode
/// (torch's `nn.Dropout2d`, p = 0.5); see ``channelDropout(_:probability:spatialRank:training:generator:)``.
public final class Dropout2d: ChannelDropoutLayer {
    /// Creates the layer.
    public init(probability: Double = 0.5, generator: Generator? = nil) {
        super.init(probability: probability, spatialRank: 2, generator: generator)
    }
}

/// Zeroes whole channels of `[N, C, D, H, W]` (or `[C, D, H, W]`) volumes in training mode
/// (torch's `nn.Dropout3d`, p = 0.5); see ``channelDropout(_:probability:spatialRank:training:generator:)``.
public final class Dropout3d: ChannelDropoutLayer {
    /// Creates the layer.
    public init(probability: Double = 0.5, generator: Generator? = nil) {
        super.init(probability: probability, spatialRank: 3, generator: generator)
    }
}

/// The layer behind ``Dropout1d``, ``Dropout2d`` and ``Dropout3d``.
public class ChannelDropoutLayer: Module {
    /// The chance of zeroing a channel.
    public var probability: Double
    /// The number of dimensions of a channel's map.
    public let spatialRank: Int
    /// The source of the masks; the default generator when `nil`. A generator of its own is
    /// saved in checkpoints with the model's other state.
    public var generator: Generator?

    init(probability: Double, spatialRank: Int, generator: Generator?) {
        require((0...1).contains(probability),
                "Dropout\(spatialRank)d: probability \(probability) is outside [0, 1]")
        self.probability = probability
        self.spatialRank = spatialRank
        self.generator = generator
        super.init()
    }

    public override func forward(_ input: Tensor) -> Tensor {
        channelDropout(input, probability: probability, spatialRank: spatialRank, training: isTraining,
                       generator: generator)
    }

    public override var ownGenerators: [(name: String, generator: Generator)] {
        generator.map { [("generator", $0)] } ?? []
    }

    public override var configurationDescription: String { "probability: \(probability)" }
}

/// SiLU (swish), x·σ(x) (torch's `nn.SiLU`).
public final class SiLU: Module {
    /// Creates the layer.
    public override init() { super.init() }
    public override func forward(_ input: Tensor) -> Tensor { silu(input) }
}

/// ELU, x for x > 0 and α·(eˣ − 1) otherwise (torch's `nn.ELU`, α = 1 by default).
public final class ELU: Module {
    /// The value α·(e^−∞ − 1) = −α the function tends to for very negative inputs.
    public var alpha: Double

    /// Creates the layer with torch's default α = 1.
    public init(alpha: Double = 1) {
        self.alpha = alpha
        super.init()
    }

    public override func forward(_ input: Tensor) -> Tensor { elu(input, alpha: alpha) }
    public override var configurationDescription: String { "alpha: \(alpha)" }
}

/// SELU, scale·elu(x, α) with α ≈ 1.6733 and scale ≈ 1.0507 (torch's `nn.SELU`).
public final class SELU: Module {
    /// Creates the layer.
    public override init() { super.init() }
    public override func forward(_ input: Tensor) -> Tensor { selu(input) }
}

/// CELU, max(0, x) + min(0, α·(e^(x/α) − 1)) (torch's `nn.CELU`, α = 1 by default).
public final class CELU: Module {
    /// The scale α (nonzero).
    public var alpha: Double

    /// Creates the layer with torch's default α = 1.
    public init(alpha: Double = 1) {
        require(alpha != 0, "CELU: alpha must be nonzero")
        self.alpha = alpha
        super.init()
    }

    public override func forward(_ input: Tensor) -> Tensor { celu(input, alpha: alpha) }
    public override var configurationDescription: String { "alpha: \(alpha)" }
}

/// Mish, x·tanh(softplus(x)) (torch's `nn.Mish`).
public final class Mish: Module {
    /// Creates the layer.
    public override init() { super.init() }
    public override func forward(_ input: Tensor) -> Tensor { mish(input) }
}

/// Hardtanh, x clamped to [minValue, maxValue] (torch's `nn.Hardtanh`, −1 and 1 by default).
public final class Hardtanh: Module {
    /// The lower bound.
    public var minValue: Double
    /// The upper bound.
    public var maxValue: Double

    /// Creates the layer with torch's defaults.
    public init(minValue: Double = -1, maxValue: Double = 1) {
        require(maxValue > minValue, "Hardtanh: maxValue \(maxValue) must exceed minValue \(minValue)")
        self.minValue = minValue
        self.maxValue = maxValue
        super.init()
    }

    public override func forward(_ input: Tensor) -> Tensor { hardtanh(input, minValue: minValue, maxValue: maxValue) }
    public override var configurationDescription: String { "minValue: \(minValue), maxValue: \(maxValue)" }
}

/// Hardswish, x·relu6(x + 3) / 6 (torch's `nn.Hardswish`).
public final class Hardswish: Module {
    /// Creates the layer.
    public override init() { super.init() }
    public override func forward(_ input: Tensor) -> Tensor { hardswish(input) }
}

/// Hardsigmoid, relu6(x + 3) / 6 (torch's `nn.Hardsigmoid`).
public final class Hardsigmoid: Module {
    /// Creates the layer.
    public override init() { super.init() }
    public override func forward(_ input: Tensor) -> Tensor { hardsigmoid(input) }
}

/// log σ(x), computed without overflow (torch's `nn.LogSigmoid`).
public final class LogSigmoid: Module {
    /// Creates the layer.
    public override init() { super.init() }
    public override func forward(_ input: Tensor) -> Tensor { logSigmoid(input) }
}

/// Softsign, x / (1 + |x|) (torch's `nn.Softsign`).
public final class Softsign: Module {
    /// Creates the layer.
    public override init() { super.init() }
    public override func forward(_ input: Tensor) -> Tensor { softsign(input) }
}

/// PReLU, x for x > 0 and a·x otherwise with a learned slope a (torch's `nn.PReLU`): one slope
/// shared by every channel, or one per channel of dimension 1; torch initializes them to 0.25.
public final class PReLU: Module {
    /// The slopes, `[numParameters]` (torch's parameter name `weight`).
    public var weight: Tensor

    /// Creates the layer.
    ///
    /// - Parameters:
    ///   - numParameters: 1 (torch's default) or the number of channels of the input.
    ///   - initialValue: the initial slope (torch's `init`, 0.25).
    ///   - dtype: the slopes' type.
    public init(numParameters: Int = 1, initialValue: Double = 0.25, dtype: DType = .float32) {
        require(numParameters >= 1, "PReLU: numParameters must be at least 1, got \(numParameters)")
        weight = Tensor.full([numParameters], value: initialValue, dtype: dtype, requiresGrad: true)
        super.init()
    }

    public override func forward(_ input: Tensor) -> Tensor { prelu(input, weight: weight) }
    public override var configurationDescription: String { "numParameters: \(weight.count)" }
}
