import LuzTensor

/// Max pooling of `[N, C, H, W]` or `[C, H, W]` (torch's `max_pool2d`); `stride` defaults to
/// `kernelSize`.
public func maxPool2d(_ input: Tensor, kernelSize: Size2D, stride: Size2D? = nil, padding: Size2D = 0,
                      dilation: Size2D = 1) -> Tensor {
    input.maxPool2d(kernelSize: kernelSize, stride: stride, padding: padding, dilation: dilation)
}

/// Average pooling of `[N, C, H, W]` or `[C, H, W]` (torch's `avg_pool2d`); `stride` defaults
/// to `kernelSize`.
public func avgPool2d(_ input: Tensor, kernelSize: Size2D, stride: Size2D? = nil, padding: Size2D = 0,
                      countIncludePad: Bool = true) -> Tensor {
    input.avgPool2d(kernelSize: kernelSize, stride: stride, padding: padding, countIncludePad: countIncludePad)
}

/// Average pooling to a fixed output size whatever the input size (torch's `adaptive_avg_pool2d`).
public func adaptiveAvgPool2d(_ input: Tensor, outputSize: Size2D) -> Tensor {
    input.adaptiveAvgPool2d(outputSize: outputSize)
}

/// A max-pooling layer (torch's `nn.MaxPool2d`).
public final class MaxPool2d: Module {
    /// The window size.
    public var kernelSize: Size2D
    /// The step between windows (torch's default: the kernel size).
    public var stride: Size2D
    /// Implicit −∞ padding on both sides.
    public var padding: Size2D
    /// The spacing between window taps.
    public var dilation: Size2D

    /// Creates the layer; `stride` defaults to `kernelSize`, as in torch.
    public init(kernelSize: Size2D, stride: Size2D? = nil, padding: Size2D = 0, dilation: Size2D = 1) {
        self.kernelSize = kernelSize
        self.stride = stride ?? kernelSize
        self.padding = padding
        self.dilation = dilation
        super.init()
    }

    public override func forward(_ input: Tensor) -> Tensor {
        input.maxPool2d(kernelSize: kernelSize, stride: stride, padding: padding, dilation: dilation)
    }

    public override var configurationDescription: String {
        "kernelSize: \(kernelSize), stride: \(stride), padding: \(padding), dilation: \(dilation)"
    }
}

/// An average-pooling layer (torch's `nn.AvgPool2d`).
public final class AvgPool2d: Module {
    /// The window size.
    public var kernelSize: Size2D
    /// The step between windows (torch's default: the kernel size).
    public var stride: Size2D
    /// Zero padding on both sides.
    public var padding: Size2D
    /// Whether padded positions count in the divisor (torch's default `true`).
    public var countIncludePad: Bool

    /// Creates the layer; `stride` defaults to `kernelSize`, as in torch.
    public init(kernelSize: Size2D, stride: Size2D? = nil, padding: Size2D = 0, countIncludePad: Bool = true) {
        self.kernelSize = kernelSize
        self.stride = stride ?? kernelSize
        self.padding = padding
        self.countIncludePad = countIncludePad
        super.init()
    }

    public override func forward(_ input: Tensor) -> Tensor {
        input.avgPool2d(kernelSize: kernelSize, stride: stride, padding: padding, countIncludePad: countIncludePad)
    }

    public override var configurationDescription: String {
        "kernelSize: \(kernelSize), stride: \(stride), padding: \(padding)"
    }
}

/// Average pooling to a fixed output size (torch's `nn.AdaptiveAvgPool2d`): `outputSize: 1`
/// is global average pooling.
public final class AdaptiveAvgPool2d: Module {
    /// The output's height and width.
    public var outputSize: Size2D

    /// Creates the layer.
    public init(outputSize: Size2D) {
        self.outputSize = outputSize
        super.init()
    }

    public override func forward(_ input: Tensor) -> Tensor { input.adaptiveAvgPool2d(outputSize: outputSize) }
    public override var configurationDescription: String { "outputSize: \(outputSize)" }
}
