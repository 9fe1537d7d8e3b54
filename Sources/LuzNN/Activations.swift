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
