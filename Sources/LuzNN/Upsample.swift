import LuzTensor

/// How ``interpolate(_:size:scaleFactor:mode:alignCorners:)`` and ``Upsample`` compute a new
/// sample from the input's.
public enum InterpolationMode: Sendable {
    /// The input sample at ⌊output index · input size / output size⌋ (torch's `"nearest"`).
    case nearest
    /// The weighted mean of the two (or four) input samples around the output's position
    /// (torch's `"linear"` on `[batch, channels, length]`, `"bilinear"` on
    /// `[batch, channels, height, width]`).
    case linear
}

/// `input` (`[batch, channels, length]` or `[batch, channels, height, width]`) resampled to
/// `size` or by `scaleFactor` per spatial dimension (torch's `F.interpolate`, with
/// `recompute_scale_factor` left unset: a given scale factor sets the coordinate mapping).
///
/// Each spatial dimension is resampled by one product with an interpolation matrix, so the
/// gradient is exact and comes from the product's.
///
/// - Parameters:
///   - size: the output's spatial sizes (one per spatial dimension), or `nil` with `scaleFactor`.
///   - scaleFactor: the factor per spatial dimension (one value for all), or `nil` with `size`.
///   - alignCorners: for `.linear`, map the corner samples onto each other (torch's
///     `align_corners=True`) instead of the corners of the pixels (the default `false`).
public func interpolate(_ input: Tensor, size: [Int]? = nil, scaleFactor: [Double]? = nil, mode: InterpolationMode = .nearest,
                        alignCorners: Bool = false) -> Tensor {
    require(input.rank == 3 || input.rank == 4,
            "interpolate: input must be [batch, channels, length] or [batch, channels, height, width], got \(input.shape)")
    require((size == nil) != (scaleFactor == nil), "interpolate: give either size or scaleFactor")
    require(!alignCorners || mode == .linear, "interpolate: alignCorners applies to linear modes only")
    let spatial = input.rank - 2
    let inputSizes = Array(input.shape.suffix(spatial))
    let factors = scaleFactor.map { $0.count == 1 ? Array(repeating: $0[0], count: spatial) : $0 }
    if let size { require(size.count == spatial && size.allSatisfy { $0 > 0 }, "interpolate: size \(size) for \(spatial) spatial dimensions") }
    if let factors {
        require(factors.count == spatial && factors.allSatisfy { $0 > 0 && $0.isFinite },
                "interpolate: scaleFactor \(scaleFactor!) for \(spatial) spatial dimensions")
    }
    var output = input
    for axis in 0..<spatial {
        let inSize = inputSizes[axis]
        let outSize = size?[axis] ?? Int((Double(inSize) * factors![axis]).rounded(.down))
        require(outSize > 0, "interpolate: the output would have no samples along spatial dimension \(axis)")
        // torch's scale: 1/scale_factor when one is given, else in/out.
        let scale = factors.map { 1 / $0[axis] } ?? Double(inSize) / Double(outSize)
        let matrix = interpolationMatrix(from: inSize, to: outSize, scale: scale, mode: mode, alignCorners: alignCorners,
                                         dtype: output.dtype)
        // Resample dimension `2 + axis`: move it last, multiply by the matrix's transpose, move it back.
        let dim = 2 + axis
        let moved = dim == output.rank - 1 ? output : output.transposed(dim, output.rank - 1)
        let resampled = moved.matmul(matrix, transposingOther: true)
        output = dim == output.rank - 1 ? resampled : resampled.transposed(dim, output.rank - 1)
    }
    return output
}

/// The `[outSize, inSize]` matrix whose rows give each output sample as a mix of input samples.
private func interpolationMatrix(from inSize: Int, to outSize: Int, scale: Double, mode: InterpolationMode,
                                 alignCorners: Bool, dtype: DType) -> Tensor {
    var weights = [Double](repeating: 0, count: outSize * inSize)
    for out in 0..<outSize {
        switch mode {
        case .nearest:
            let source = Swift.min(Int((Double(out) * scale).rounded(.down)), inSize - 1)
            weights[out * inSize + source] = 1
        case .linear:
            var source: Double
            if alignCorners {
                source = outSize > 1 ? Double(out) * Double(inSize - 1) / Double(outSize - 1) : 0
            } else {
                source = Swift.max((Double(out) + 0.5) * scale - 0.5, 0)
            }
            let low = Swift.min(Int(source.rounded(.down)), inSize - 1)
            let high = Swift.min(low + 1, inSize - 1)
            let fraction = source - Double(low)
            weights[out * inSize + low] += 1 - fraction
            weights[out * inSize + high] += fraction
        }
    }
    return Tensor(weights, shape: [outSize, inSize]).to(dtype.isFloatingPoint ? dtype : .float32)
}

/// Upsampling as a layer (torch's `nn.Upsample`): ``interpolate(_:size:scaleFactor:mode:alignCorners:)``
/// with fixed options.
public final class Upsample: Module {
    /// The output's spatial sizes, or `nil` with a scale factor.
    public let size: [Int]?
    /// The factor per spatial dimension, or `nil` with a size.
    public let scaleFactor: [Double]?
    /// Nearest or (bi)linear.
    public let mode: InterpolationMode
    /// Whether linear modes map corner samples onto each other.
    public let alignCorners: Bool

    /// Creates the layer; give `size` or `scaleFactor` (one value for every spatial dimension, or one each).
    public init(size: [Int]? = nil, scaleFactor: [Double]? = nil, mode: InterpolationMode = .nearest, alignCorners: Bool = false) {
        require((size == nil) != (scaleFactor == nil), "Upsample: give either size or scaleFactor")
        self.size = size
        self.scaleFactor = scaleFactor
        self.mode = mode
        self.alignCorners = alignCorners
        super.init()
    }

    /// The resampled input.
    public override func forward(_ input: Tensor) -> Tensor {
        interpolate(input, size: size, scaleFactor: scaleFactor, mode: mode, alignCorners: alignCorners)
    }

    public override var configurationDescription: String {
        (size.map { "size: \($0)" } ?? "scaleFactor: \(scaleFactor!)") + ", mode: \(mode)" + (alignCorners ? ", alignCorners: true" : "")
    }
}
