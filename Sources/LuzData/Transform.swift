import LuzTensor

/// A function applied to each element as a dataset reads it: turning image bytes into a
/// tensor, normalizing, encoding a label, augmenting (torchvision's transforms).
///
/// Transforms chain with ``then(_:)`` or ``composed(_:)``:
/// ```swift
/// let transform: Transform<Image, Tensor> = .toTensor.then(.normalize(mean: [0.1307], std: [0.3081]))
/// ```
/// A *random* transform (``isRandom``: a random crop, a flip, ``randomApply(_:probability:)``)
/// draws from the generator it is called with. A dataset gives every element of every epoch a
/// generator of its own, derived from the epoch's seed and the element's position (see
/// ``Dataset/element(at:epochSeed:)``), so an augmented epoch is the same whatever order or
/// thread its elements are read on. Called without a generator, a random transform draws from
/// the default one.
///
/// A transform must be safe to call from a background thread (a prefetching loader does).
public struct Transform<Input, Output> {
    private let body: (Input, Generator) -> Output
    /// Whether the transform draws random numbers (so a dataset reading through it gives each
    /// epoch new draws).
    public let isRandom: Bool

    /// Wraps a deterministic function.
    public init(_ body: @escaping (Input) -> Output) {
        self.body = { input, _ in body(input) }
        isRandom = false
    }

    /// Wraps a random function, which must draw only from the generator it is given.
    public init(random body: @escaping (_ input: Input, _ generator: Generator) -> Output) {
        self.body = body
        isRandom = true
    }

    private init(isRandom: Bool, body: @escaping (Input, Generator) -> Output) {
        self.body = body
        self.isRandom = isRandom
    }

    /// Applies the transform; a random one draws from the default generator.
    public func callAsFunction(_ input: Input) -> Output {
        body(input, .default)
    }

    /// Applies the transform, drawing from `generator`.
    public func callAsFunction(_ input: Input, generator: Generator) -> Output {
        body(input, generator)
    }

    /// This transform followed by `next`.
    public func then<Next>(_ next: Transform<Output, Next>) -> Transform<Input, Next> {
        let first = body
        return Transform<Input, Next>(isRandom: isRandom || next.isRandom) { input, generator in
            next(first(input, generator), generator: generator)
        }
    }
}

extension Transform where Input == Output {
    /// Returns its input unchanged.
    public static var identity: Transform { Transform { $0 } }

    /// Applies `transforms` in order (torchvision's `Compose`).
    public static func composed(_ transforms: [Transform]) -> Transform {
        Transform(isRandom: transforms.contains { $0.isRandom }) { input, generator in
            transforms.reduce(input) { value, transform in transform(value, generator: generator) }
        }
    }

    /// Applies `transforms` in order with probability `probability`, else none of them
    /// (torchvision's `RandomApply`, whose default probability is 0.5).
    public static func randomApply(_ transforms: [Transform], probability: Double = 0.5) -> Transform {
        require((0...1).contains(probability), "randomApply: the probability must be in [0, 1], got \(probability)")
        let all = composed(transforms)
        return Transform(random: { input, generator in
            generator.nextDouble() < probability ? all(input, generator: generator) : input
        })
    }

    /// Applies one of `transforms`, picked at random with the given weights (all equal when
    /// `nil`; torchvision's `RandomChoice`).
    public static func randomChoice(_ transforms: [Transform], weights: [Double]? = nil) -> Transform {
        require(!transforms.isEmpty, "randomChoice: no transforms given")
        let weights = weights ?? Array(repeating: 1, count: transforms.count)
        require(weights.count == transforms.count && weights.allSatisfy { $0 >= 0 && $0.isFinite }
                    && weights.reduce(0, +) > 0,
                "randomChoice: \(weights.count) weights for \(transforms.count) transforms; they must be non-negative with a positive sum")
        let total = weights.reduce(0, +)
        let cumulative = weights.reduce(into: [Double]()) { $0.append(($0.last ?? 0) + $1 / total) }
        return Transform(random: { input, generator in
            let u = generator.nextDouble()
            let index = cumulative.firstIndex { u < $0 } ?? (transforms.count - 1)
            return transforms[index](input, generator: generator)
        })
    }
}

/// An 8-bit image: `height × width × channels` bytes in row-major order, channels last (the
/// layout of image files and of PIL, which torchvision's `ToTensor` expects).
public struct Image: Equatable, Sendable {
    /// The number of rows.
    public let height: Int
    /// The number of columns.
    public let width: Int
    /// The number of channels (1 for grayscale).
    public let channels: Int
    /// The pixel values, `(row × width + column) × channels + channel`.
    public let pixels: [UInt8]

    /// Creates an image from its bytes.
    public init(height: Int, width: Int, channels: Int = 1, pixels: [UInt8]) {
        require(pixels.count == height * width * channels,
                "Image: \(pixels.count) bytes do not fill \(height) × \(width) × \(channels)")
        self.height = height
        self.width = width
        self.channels = channels
        self.pixels = pixels
    }
}

extension Transform where Input == Image, Output == Tensor {
    /// Converts an image to a `float32` tensor of shape `channels × height × width` with values
    /// in [0, 1] (byte / 255), like torchvision's `ToTensor`: a 28 × 28 grayscale image becomes
    /// `[1, 28, 28]`.
    public static var toTensor: Transform {
        Transform { image in imageTensor(image) }
    }
}

/// The tensor of ``Transform/toTensor``.
func imageTensor(_ image: Image) -> Tensor {
    let (h, w, c) = (image.height, image.width, image.channels)
    return image.pixels.withUnsafeBufferPointer { pixels in
        Tensor(shape: [c, h, w]) { (out: UnsafeMutableBufferPointer<Float>) in
            // Division, not multiplication by 1/255, gives torch's values exactly.
            if c == 1 {
                for i in 0..<pixels.count { out[i] = Float(pixels[i]) / 255 }
            } else {
                for p in 0..<(h * w) {
                    for k in 0..<c { out[k * h * w + p] = Float(pixels[p * c + k]) / 255 }
                }
            }
        }
    }
}

extension Transform where Input == Tensor, Output == Tensor {
    /// Normalizes each channel: `(x - mean[c]) / std[c]` (torchvision's `Normalize`).
    ///
    /// The channel dimension is the third from the end (`[..., C, H, W]`); a single mean and
    /// standard deviation apply to every element of a tensor of any shape.
    /// - Parameters:
    ///   - mean: one mean per channel, or one for all.
    ///   - std: one standard deviation per channel, or one for all; none may be zero.
    public static func normalize(mean: [Double], std: [Double]) -> Transform {
        require(!mean.isEmpty && mean.count == std.count,
                "normalize: \(mean.count) means and \(std.count) standard deviations")
        require(std.allSatisfy { $0 != 0 }, "normalize: a standard deviation is zero: \(std)")
        return Transform { tensor in normalized(tensor, mean: mean, std: std) }
    }
}

func normalized(_ tensor: Tensor, mean: [Double], std: [Double]) -> Tensor {
    let channels = mean.count
    let shape = tensor.shape
    // Elements per channel block and the number of blocks before the channel dimension.
    var inner = tensor.count
    var outer = 1
    if channels > 1 {
        require(shape.count >= 3 && shape[shape.count - 3] == channels,
                "normalize: \(channels) channel means for a tensor of shape \(shape); the channels must be the third dimension from the end")
        inner = shape[(shape.count - 2)...].reduce(1, *)
        outer = shape[..<(shape.count - 3)].reduce(1, *)
    }
    func run<T: TensorScalar & BinaryFloatingPoint>(_: T.Type) -> Tensor {
        let shift = mean.map { T($0) }
        let scale = std.map { 1 / T($0) }
        return tensor.withUnsafeBufferPointer(as: T.self) { input in
            Tensor(shape: shape) { (output: UnsafeMutableBufferPointer<T>) in
                var i = 0
                for _ in 0..<outer {
                    for c in 0..<channels {
                        let (m, s) = (shift[c], scale[c])
                        for _ in 0..<inner {
                            output[i] = (input[i] - m) * s
                            i += 1
                        }
                    }
                }
            }
        }
    }
    switch tensor.dtype {
    case .float32: return run(Float.self)
    case .float64: return run(Double.self)
    default: fatalError("normalize: needs a floating-point tensor, got \(tensor.dtype)")
    }
}

extension Transform where Input == Int, Output == Tensor {
    /// A class index as an `int64` scalar tensor: the targets of a batch stack to shape
    /// `[batchSize]`, what a cross-entropy loss expects.
    public static var classIndex: Transform {
        Transform { Tensor([Int64($0)], shape: []) }
    }
}
