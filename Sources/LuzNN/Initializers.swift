import Foundation
import LuzTensor
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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

    // MARK: - Skipping initialization

    // The nesting depth of skipping scopes on this thread, as a pointer-sized integer (0 = draw).
    private static let skipKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    /// Whether modules built on this thread now skip their random initial values (inside
    /// ``skipping(_:)``).
    public static var isSkipping: Bool { pthread_getspecific(skipKey) != nil }

    /// Builds the modules of `body` without drawing their random initial values (torch's
    /// `nn.utils.skip_init`): for a model whose weights are loaded right after, so that no
    /// `30 522 × 384` table is filled with random numbers only to be overwritten.
    ///
    /// Inside `body`, on this thread, every random scheme here (`uniform`, `normal`, Xavier,
    /// Kaiming, orthogonal, truncated normal) and the random tables of ``Embedding`` and the
    /// learned positional encoding leave the tensors at zero and draw nothing from their
    /// generators; constants (`ones`, `zeros`, `eye`, `dirac`) are still written. The modules
    /// are complete and usable: load their weights before training or inference.
    ///
    /// ```swift
    /// let model = Initializer.skipping { Sequential { Linear(784, 512); ReLU(); Linear(512, 10) } }
    /// try model.load(from: "weights.safetensors")
    /// ```
    @discardableResult
    public static func skipping<R>(_ body: () throws -> R) rethrows -> R {
        let depth = Int(bitPattern: pthread_getspecific(skipKey))
        pthread_setspecific(skipKey, UnsafeRawPointer(bitPattern: depth + 1))
        defer { pthread_setspecific(skipKey, UnsafeRawPointer(bitPattern: depth)) }
        return try body()
    }

    /// Fills `tensor` from U(low, high).
    public static func uniform(_ tensor: Tensor, low: Double = 0, high: Double = 1, generator: Generator? = nil) {
        if isSkipping { return }
        let values = Tensor.uniform(tensor.shape, low: low, high: high, dtype: floatType(tensor), generator: generator)
        withNoGrad { tensor.copy(from: values) }
    }

    /// Fills `tensor` from N(mean, std²).
    public static func normal(_ tensor: Tensor, mean: Double = 0, std: Double = 1, generator: Generator? = nil) {
        if isSkipping { return }
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

    /// A (semi-)orthogonal matrix times `gain` (torch's `orthogonal_`, Saxe et al.): the tensor,
    /// viewed as `[rows, columns]` with `rows = shape[0]`, gets orthonormal rows (when
    /// rows ≤ columns) or orthonormal columns, so WᵀW = gain²·I or WWᵀ = gain²·I.
    ///
    /// As torch, it orthogonalizes a matrix of N(0, 1) draws (here by modified Gram–Schmidt,
    /// twice for accuracy) with the signs fixed so that R's diagonal is positive, which makes
    /// the result uniformly distributed over the orthogonal matrices.
    ///
    /// - Parameters:
    ///   - tensor: at least two dimensions; trailing ones are flattened into the columns.
    ///   - gain: the scale (torch's 1).
    public static func orthogonal(_ tensor: Tensor, gain: Double = 1, generator: Generator? = nil) {
        if isSkipping { return }
        let type = floatType(tensor)
        require(tensor.rank >= 2, "orthogonal: needs at least 2 dimensions, got shape \(tensor.shape)")
        let rows = tensor.shape[0], columns = tensor.count / Swift.max(rows, 1)
        guard tensor.count > 0 else { return }
        // Orthonormalize the `small` vectors of length `long`: the columns of the tall matrix.
        let long = Swift.max(rows, columns), small = Swift.min(rows, columns)
        var vectors = Tensor.normal([small, long], mean: 0, std: 1, dtype: .float64, generator: generator).doubles
        for j in 0..<small {
            for _ in 0..<2 {
                for k in 0..<j {
                    var dot = 0.0
                    for i in 0..<long { dot += vectors[k * long + i] * vectors[j * long + i] }
                    for i in 0..<long { vectors[j * long + i] -= dot * vectors[k * long + i] }
                }
            }
            var norm = 0.0
            for i in 0..<long { norm += vectors[j * long + i] * vectors[j * long + i] }
            norm = norm.squareRoot()
            require(norm > 0, "orthogonal: degenerate draw")
            for i in 0..<long { vectors[j * long + i] /= norm }
        }
        // The vectors are the rows when rows ≤ columns, and the columns otherwise.
        var values = [Double](repeating: 0, count: rows * columns)
        for j in 0..<small {
            for i in 0..<long {
                let value = gain * vectors[j * long + i]
                if rows <= columns { values[j * columns + i] = value } else { values[i * columns + j] = value }
            }
        }
        withNoGrad { tensor.copy(from: Tensor(values, shape: tensor.shape).to(type)) }
    }

    /// Fills `tensor` from N(mean, std²) truncated to [a, b] (torch's `trunc_normal_`; its
    /// defaults: mean 0, std 1, a = −2, b = 2). The bounds are values, not multiples of `std`,
    /// as in torch.
    ///
    /// Values outside the bounds are drawn again, so the distribution is exactly the truncated
    /// normal; the interval must hold a reasonable part of the mass (at least 10⁻⁴).
    public static func truncatedNormal(_ tensor: Tensor, mean: Double = 0, std: Double = 1, a: Double = -2,
                                       b: Double = 2, generator: Generator? = nil) {
        if isSkipping { return }
        let type = floatType(tensor)
        require(std > 0, "truncatedNormal: std must be positive, got \(std)")
        require(a < b, "truncatedNormal: a (\(a)) must be below b (\(b))")
        func cdf(_ x: Double) -> Double { 0.5 * (1 + erf((x - mean) / (std * 2.0.squareRoot()))) }
        let mass = cdf(b) - cdf(a)
        require(mass >= 1e-4, "truncatedNormal: [\(a), \(b)] holds only \(mass) of N(\(mean), \(std)²); draw with other bounds")
        var values = [Double](repeating: 0, count: tensor.count)
        var missing = Array(0..<tensor.count)
        while !missing.isEmpty {
            let draws = Tensor.normal([missing.count], mean: mean, std: std, dtype: .float64, generator: generator).doubles
            var stillMissing: [Int] = []
            for (index, value) in zip(missing, draws) {
                if value >= a && value <= b { values[index] = value } else { stillMissing.append(index) }
            }
            missing = stillMissing
        }
        withNoGrad { tensor.copy(from: Tensor(values, shape: tensor.shape).to(type)) }
    }

    /// The Dirac delta (torch's `dirac_`): a convolution weight `[out, in, k...]` (3 to 5
    /// dimensions) that passes its input through, a 1 at the kernel's centre (index k/2 in each
    /// spatial dimension) from input channel d to output channel d of each group, 0 elsewhere.
    ///
    /// - Parameter groups: the number of groups of output channels, each an identity on the
    ///   first input channels (torch's 1); it must divide the output channels.
    public static func dirac(_ tensor: Tensor, groups: Int = 1) {
        let type = floatType(tensor)
        let shape = tensor.shape
        require((3...5).contains(shape.count), "dirac: needs 3 to 5 dimensions, got shape \(shape)")
        require(groups >= 1 && shape[0] % groups == 0,
                "dirac: groups (\(groups)) must divide the output channels (\(shape[0]))")
        let outputsPerGroup = shape[0] / groups
        let spatial = Array(shape.dropFirst(2))
        let kernelCount = spatial.reduce(1, *)
        var centre = 0
        for size in spatial { centre = centre * size + size / 2 }
        var values = [Double](repeating: 0, count: tensor.count)
        for group in 0..<groups {
            for channel in 0..<Swift.min(outputsPerGroup, shape[1]) {
                let output = group * outputsPerGroup + channel
                values[(output * shape[1] + channel) * kernelCount + centre] = 1
            }
        }
        withNoGrad { tensor.copy(from: Tensor(values, shape: shape).to(type)) }
    }

    /// The identity matrix (torch's `eye_`): ones on the main diagonal of a 2-dimensional
    /// tensor, zeros elsewhere (a rectangular tensor gets min(rows, columns) ones), so a Linear
    /// layer starts as the identity map.
    public static func eye(_ tensor: Tensor) {
        let type = floatType(tensor)
        require(tensor.rank == 2, "eye: needs a 2-dimensional tensor, got shape \(tensor.shape)")
        withNoGrad { tensor.copy(from: Tensor.eye(tensor.shape[0], tensor.shape[1], dtype: type)) }
    }

    private static func floatType(_ tensor: Tensor) -> DType {
        require(tensor.dtype.isFloatingPoint, "initializer: needs a floating-point tensor, got \(tensor.dtype)")
        return tensor.dtype
    }
}
