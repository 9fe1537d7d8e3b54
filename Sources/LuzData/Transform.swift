import LuzTensor

/// A function applied to each element as a dataset reads it: turning image bytes into a
/// tensor, normalizing, encoding a label (torchvision's transforms).
///
/// Transforms chain with ``then(_:)`` or ``composed(_:)``:
/// ```swift
/// let transform: Transform<Image, Tensor> = .toTensor.then(.normalize(mean: [0.1307], std: [0.3081]))
/// ```
/// A transform must be safe to call from a background thread (a prefetching loader does).
public struct Transform<Input, Output> {
    private let body: (Input) -> Output

    /// Wraps a function.
    public init(_ body: @escaping (Input) -> Output) {
        self.body = body
    }

    /// Applies the transform.
    public func callAsFunction(_ input: Input) -> Output {
        body(input)
    }

    /// This transform followed by `next`.
    public func then<Next>(_ next: Transform<Output, Next>) -> Transform<Input, Next> {
        let first = body
        return Transform<Input, Next> { next(first($0)) }
    }
}

extension Transform where Input == Output {
    /// Returns its input unchanged.
    public static var identity: Transform { Transform { $0 } }

    /// Applies `transforms` in order (torchvision's `Compose`).
    public static func composed(_ transforms: [Transform]) -> Transform {
        Transform { input in transforms.reduce(input) { value, transform in transform(value) } }
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
