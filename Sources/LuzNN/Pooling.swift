import LuzTensor

/// Max pooling of `[N, C, H, W]` or `[C, H, W]` (torch's `max_pool2d`); `stride` defaults to
/// `kernelSize`.
public func maxPool2d(_ input: Tensor, kernelSize: Size2D, stride: Size2D? = nil, padding: Size2D = 0,
                      dilation: Size2D = 1, ceilMode: Bool = false) -> Tensor {
    input.maxPool2d(kernelSize: kernelSize, stride: stride, padding: padding, dilation: dilation, ceilMode: ceilMode)
}

/// Average pooling of `[N, C, H, W]` or `[C, H, W]` (torch's `avg_pool2d`); `stride` defaults
/// to `kernelSize`.
public func avgPool2d(_ input: Tensor, kernelSize: Size2D, stride: Size2D? = nil, padding: Size2D = 0,
                      countIncludePad: Bool = true, ceilMode: Bool = false) -> Tensor {
    input.avgPool2d(kernelSize: kernelSize, stride: stride, padding: padding, countIncludePad: countIncludePad,
                    ceilMode: ceilMode)
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
    /// Whether the last, partial window of a dimension is kept (torch's `ceil_mode`).
    public var ceilMode: Bool

    /// Creates the layer; `stride` defaults to `kernelSize`, as in torch.
    public init(kernelSize: Size2D, stride: Size2D? = nil, padding: Size2D = 0, dilation: Size2D = 1,
                ceilMode: Bool = false) {
        self.kernelSize = kernelSize
        self.stride = stride ?? kernelSize
        self.padding = padding
        self.dilation = dilation
        self.ceilMode = ceilMode
        super.init()
    }

    public override func forward(_ input: Tensor) -> Tensor {
        input.maxPool2d(kernelSize: kernelSize, stride: stride, padding: padding, dilation: dilation, ceilMode: ceilMode)
    }

    public override var configurationDescription: String {
        "kernelSize: \(kernelSize), stride: \(stride), padding: \(padding), dilation: \(dilation)"
            + (ceilMode ? ", ceilMode: true" : "")
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
    /// Whether the last, partial window of a dimension is kept (torch's `ceil_mode`).
    public var ceilMode: Bool

    /// Creates the layer; `stride` defaults to `kernelSize`, as in torch.
    public init(kernelSize: Size2D, stride: Size2D? = nil, padding: Size2D = 0, countIncludePad: Bool = true,
                ceilMode: Bool = false) {
        self.kernelSize = kernelSize
        self.stride = stride ?? kernelSize
        self.padding = padding
        self.countIncludePad = countIncludePad
        self.ceilMode = ceilMode
        super.init()
    }

    public override func forward(_ input: Tensor) -> Tensor {
        input.avgPool2d(kernelSize: kernelSize, stride: stride, padding: padding, countIncludePad: countIncludePad,
                        ceilMode: ceilMode)
    }

    public override var configurationDescription: String {
        "kernelSize: \(kernelSize), stride: \(stride), padding: \(padding)" + (ceilMode ? ", ceilMode: true" : "")
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

/// Max pooling over the last dimension of `[batch, channels, length]` or `[channels, length]`
/// (torch's `nn.MaxPool1d`).
public final class MaxPool1d: Module {
    /// The window length.
    public var kernelSize: Int
    /// The step between windows (torch's default: the kernel size).
    public var stride: Int
    /// Implicit −∞ padding on both ends.
    public var padding: Int
    /// Whether the last, partial window is kept (torch's `ceil_mode`).
    public var ceilMode: Bool

    /// Creates the layer; `stride` defaults to `kernelSize`, as in torch.
    public init(kernelSize: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false) {
        self.kernelSize = kernelSize
        self.stride = stride ?? kernelSize
        self.padding = padding
        self.ceilMode = ceilMode
        super.init()
    }

    public override func forward(_ input: Tensor) -> Tensor {
        input.maxPool1d(kernelSize: kernelSize, stride: stride, padding: padding, ceilMode: ceilMode)
    }

    public override var configurationDescription: String {
        "kernelSize: \(kernelSize), stride: \(stride), padding: \(padding)" + (ceilMode ? ", ceilMode: true" : "")
    }
}

/// Average pooling over the last dimension of `[batch, channels, length]` or `[channels,
/// length]` (torch's `nn.AvgPool1d`), as a two-dimensional pooling of height 1.
public final class AvgPool1d: Module {
    /// The window length.
    public var kernelSize: Int
    /// The step between windows (torch's default: the kernel size).
    public var stride: Int
    /// Zero padding on both ends.
    public var padding: Int
    /// Whether padded positions count in the divisor (torch's default `true`).
    public var countIncludePad: Bool
    /// Whether the last, partial window is kept (torch's `ceil_mode`).
    public var ceilMode: Bool

    /// Creates the layer; `stride` defaults to `kernelSize`, as in torch.
    public init(kernelSize: Int, stride: Int? = nil, padding: Int = 0, countIncludePad: Bool = true,
                ceilMode: Bool = false) {
        self.kernelSize = kernelSize
        self.stride = stride ?? kernelSize
        self.padding = padding
        self.countIncludePad = countIncludePad
        self.ceilMode = ceilMode
        super.init()
    }

    public override func forward(_ input: Tensor) -> Tensor {
        require(input.rank == 2 || input.rank == 3, "AvgPool1d: input \(input.shape) should be [N, C, L] or [C, L]")
        return input.unsqueezed(dim: input.rank - 1)
            .avgPool2d(kernelSize: Size2D(1, kernelSize), stride: Size2D(1, stride), padding: Size2D(0, padding),
                       countIncludePad: countIncludePad, ceilMode: ceilMode)
            .squeezed(dim: input.rank - 1)
    }

    public override var configurationDescription: String {
        "kernelSize: \(kernelSize), stride: \(stride), padding: \(padding)" + (ceilMode ? ", ceilMode: true" : "")
    }
}

/// Max pooling to a fixed output size (torch's `nn.AdaptiveMaxPool2d`): output cell (i, j)
/// takes the maximum over rows ⌊i·H/h⌋ ..< ⌈(i+1)·H/h⌉ and the columns likewise.
public final class AdaptiveMaxPool2d: Module {
    /// The output's height and width.
    public var outputSize: Size2D

    /// Creates the layer.
    public init(outputSize: Size2D) {
        self.outputSize = outputSize
        super.init()
    }

    public override func forward(_ input: Tensor) -> Tensor {
        require(input.rank == 3 || input.rank == 4, "AdaptiveMaxPool2d: input \(input.shape) should be [N, C, H, W] or [C, H, W]")
        let (height, width) = (input.shape[input.rank - 2], input.shape[input.rank - 1])
        let (rows, columns) = (outputSize.height, outputSize.width)
        require(rows > 0 && columns > 0, "AdaptiveMaxPool2d: invalid output size \(outputSize)")
        func window(_ i: Int, _ out: Int, _ size: Int) -> (Int, Int) { (i * size / out, ((i + 1) * size + out - 1) / out) }
        let h = input.rank - 2, w = input.rank - 1
        var cells: [Tensor] = []
        for i in 0..<rows {
            let (top, bottom) = window(i, rows, height)
            let band = input.sliced(dim: h, start: top, end: bottom)
            for j in 0..<columns {
                let (left, right) = window(j, columns, width)
                let region = band.sliced(dim: w, start: left, end: right)
                cells.append(region.flattened(from: h).max(dim: -1).values)
            }
        }
        return Tensor.stack(cells, dim: -1).reshaped(Array(input.shape.prefix(h)) + [rows, columns])
    }

    public override var configurationDescription: String { "outputSize: \(outputSize)" }
}

/// Padding as a layer (torch's `nn.ConstantPad2d`, `nn.ReflectionPad2d`, `nn.ReplicationPad2d`,
/// `nn.CircularPad2d` and their 1-D and 3-D forms): `padding` lists (before, after) pairs from
/// the last dimension backwards, as torch's `F.pad`.
public final class Pad: Module {
    /// The amounts, torch's order: last dimension's before and after, then the one before it.
    public let padding: [Int]
    /// Constant, reflect, replicate or circular.
    public let mode: PaddingMode

    /// Creates the layer.
    public init(_ padding: [Int], mode: PaddingMode = .constant(0)) {
        require(padding.count % 2 == 0, "Pad: padding needs (before, after) pairs, got \(padding)")
        self.padding = padding
        self.mode = mode
        super.init()
    }

    public override func forward(_ input: Tensor) -> Tensor { input.padded(padding, mode: mode) }

    public override var configurationDescription: String { "padding: \(padding), mode: \(mode)" }
}
