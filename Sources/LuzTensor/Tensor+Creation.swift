extension Tensor {
    /// A tensor filled with `value` (converted to `dtype`).
    public static func full(_ shape: [Int], value: Double, dtype: DType = .float32,
                            requiresGrad: Bool = false) -> Tensor {
        let result = empty(shape, dtype: dtype, op: "full")
        result.fill(value)
        result.requiresGrad = requiresGrad
        return result
    }

    /// A tensor of zeros.
    public static func zeros(_ shape: [Int], dtype: DType = .float32, requiresGrad: Bool = false) -> Tensor {
        let result = empty(shape, dtype: dtype, op: "zeros")
        if result.count > 0 { memset(result.storage.raw, 0, result.count * dtype.byteCount) }
        result.requiresGrad = requiresGrad
        return result
    }

    /// A tensor of ones.
    public static func ones(_ shape: [Int], dtype: DType = .float32, requiresGrad: Bool = false) -> Tensor {
        full(shape, value: 1, dtype: dtype, requiresGrad: requiresGrad)
    }

    /// Zeros with the shape and type of `other`.
    public static func zeros(like other: Tensor) -> Tensor { zeros(other.shape, dtype: other.dtype) }

    /// Ones with the shape and type of `other`.
    public static func ones(like other: Tensor) -> Tensor { ones(other.shape, dtype: other.dtype) }

    /// The values `start, start + step, …` below `end` (torch's `arange`). Defaults to int64 when
    /// all arguments are whole numbers would be surprising in Swift; the type is explicit instead.
    public static func arange(_ start: Double = 0, _ end: Double, step: Double = 1,
                              dtype: DType = .float32) -> Tensor {
        require(step != 0, "arange: step must be nonzero")
        let n = Swift.max(0, Int(((end - start) / step).rounded(.up)))
        let result = empty([n], dtype: dtype)
        for i in 0..<n { result.setElement(at: i, start + Double(i) * step) }
        return result
    }

    /// The whole numbers `0..<end` as int64 (torch's `arange(n)` for indices).
    public static func arange(_ end: Int) -> Tensor {
        Tensor((0..<Int64(Swift.max(end, 0))).map { $0 })
    }

    /// `steps` evenly spaced values from `start` to `end`, both included.
    public static func linspace(_ start: Double, _ end: Double, steps: Int, dtype: DType = .float32) -> Tensor {
        require(steps >= 0, "linspace: steps must be non-negative, got \(steps)")
        let result = empty([steps], dtype: dtype)
        let step = steps > 1 ? (end - start) / Double(steps - 1) : 0
        for i in 0..<steps {
            // The last value is `end` exactly, not start + (n-1)·step with rounding error.
            result.setElement(at: i, i == steps - 1 ? end : start + Double(i) * step)
        }
        return result
    }

    /// The `n × m` identity matrix (ones on the diagonal).
    public static func eye(_ n: Int, _ m: Int? = nil, dtype: DType = .float32) -> Tensor {
        let columns = m ?? n
        let result = zeros([n, columns], dtype: dtype)
        for i in 0..<Swift.min(n, columns) { result.setElement(at: i * columns + i, 1) }
        return result
    }

    /// Writes one element from a `Double`.
    func setElement(at index: Int, _ value: Double) {
        switch dtype {
        case .float32: pointer(Float.self)[index] = Float(value)
        case .float64: pointer(Double.self)[index] = value
        case .int64: pointer(Int64.self)[index] = Int64(value)
        case .bool: pointer(Bool.self)[index] = value != 0
        }
    }

    // MARK: - Random

    /// Uniform samples from [0, 1).
    public static func rand(_ shape: [Int], dtype: DType = .float32, generator: Generator? = nil,
                            requiresGrad: Bool = false) -> Tensor {
        uniform(shape, low: 0, high: 1, dtype: dtype, generator: generator, requiresGrad: requiresGrad)
    }

    /// Uniform samples from [low, high).
    public static func uniform(_ shape: [Int], low: Double, high: Double, dtype: DType = .float32,
                               generator: Generator? = nil, requiresGrad: Bool = false) -> Tensor {
        require(dtype.isFloatingPoint, "uniform: needs a floating-point dtype, got \(dtype)")
        let result = empty(shape, dtype: dtype, op: "uniform")
        let g = generator ?? .default
        let width = high - low
        switch dtype {
        case .float32:
            let p = result.pointer(Float.self)
            g.fillUniform(result.count) { i, u in p[i] = Float(low + width * u) }
        default:
            let p = result.pointer(Double.self)
            g.fillUniform(result.count) { i, u in p[i] = low + width * u }
        }
        result.requiresGrad = requiresGrad
        return result
    }

    /// Standard normal samples.
    public static func randn(_ shape: [Int], dtype: DType = .float32, generator: Generator? = nil,
                             requiresGrad: Bool = false) -> Tensor {
        normal(shape, mean: 0, std: 1, dtype: dtype, generator: generator, requiresGrad: requiresGrad)
    }

    /// Normal samples with the given mean and standard deviation.
    public static func normal(_ shape: [Int], mean: Double, std: Double, dtype: DType = .float32,
                              generator: Generator? = nil, requiresGrad: Bool = false) -> Tensor {
        require(dtype.isFloatingPoint, "normal: needs a floating-point dtype, got \(dtype)")
        require(std >= 0, "normal: std must be non-negative, got \(std)")
        let result = empty(shape, dtype: dtype, op: "normal")
        let g = generator ?? .default
        switch dtype {
        case .float32:
            let p = result.pointer(Float.self)
            g.fillNormal(result.count) { i, z in p[i] = Float(mean + std * z) }
        default:
            let p = result.pointer(Double.self)
            g.fillNormal(result.count) { i, z in p[i] = mean + std * z }
        }
        result.requiresGrad = requiresGrad
        return result
    }

    /// Uniform random integers in `low..<high` (int64 by default).
    public static func randint(_ low: Int, _ high: Int, _ shape: [Int], dtype: DType = .int64,
                               generator: Generator? = nil) -> Tensor {
        require(high > low, "randint: empty range \(low)..<\(high)")
        let result = empty(shape, dtype: dtype, op: "randint")
        let g = generator ?? .default
        g.fillInt(result.count, below: high - low) { i, v in result.setElement(at: i, Double(low + v)) }
        return result
    }

    /// A random permutation of `0..<n` as int64.
    public static func randperm(_ n: Int, generator: Generator? = nil) -> Tensor {
        let permutation = (generator ?? .default).permutation(n)
        return Tensor(permutation.map { Int64($0) })
    }

    /// Samples of 0 or 1, each 1 with probability `probability` (a float tensor of the same shape).
    public static func bernoulli(_ shape: [Int], probability: Double, dtype: DType = .float32,
                                 generator: Generator? = nil) -> Tensor {
        require((0...1).contains(probability), "bernoulli: probability \(probability) is outside [0, 1]")
        let result = empty(shape, dtype: dtype, op: "bernoulli")
        (generator ?? .default).fillUniform(result.count) { i, u in
            result.setElement(at: i, u < probability ? 1 : 0)
        }
        return result
    }

    /// Samples of 0 or 1 with per-element probabilities given by this tensor.
    public func bernoulli(generator: Generator? = nil) -> Tensor {
        let probabilities = doubles
        let result = Tensor.empty(shape, dtype: dtype, op: "bernoulli")
        (generator ?? .default).fillUniform(count) { i, u in
            result.setElement(at: i, u < probabilities[i] ? 1 : 0)
        }
        return result
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
