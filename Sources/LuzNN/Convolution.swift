import LuzTensor

/// The 2-D convolution of `input` (`[N, C, H, W]` or `[C, H, W]`) with `weight`
/// (`[O, C/groups, kH, kW]`) plus `bias` (`[O]`) (torch's `conv2d`; see
/// `Tensor.conv2d(weight:bias:stride:padding:dilation:groups:)`).
public func conv2d(_ input: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Size2D = 1, padding: Size2D = 0,
                   dilation: Size2D = 1, groups: Int = 1) -> Tensor {
    input.conv2d(weight: weight, bias: bias, stride: stride, padding: padding, dilation: dilation, groups: groups)
}

/// The 1-D convolution of `input` (`[N, C, L]` or `[C, L]`) with `weight` (`[O, C/groups, k]`)
/// plus `bias` (`[O]`) (torch's `conv1d`).
public func conv1d(_ input: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0,
                   dilation: Int = 1, groups: Int = 1) -> Tensor {
    input.conv1d(weight: weight, bias: bias, stride: stride, padding: padding, dilation: dilation, groups: groups)
}

/// A 2-D convolution layer (torch's `nn.Conv2d`): weight `[outChannels, inChannels/groups, kH, kW]`
/// and bias `[outChannels]`, initialized like torch (Kaiming uniform with a = √5, bias from
/// U(−1/√fanIn, 1/√fanIn) with fanIn = inChannels/groups·kH·kW).
public final class Conv2d: Module {
    /// The filters, `[outChannels, inChannels/groups, kH, kW]`.
    public var weight: Tensor
    /// One value per output channel, or `nil`.
    public var bias: Tensor?
    /// The step between output positions.
    public var stride: Size2D
    /// Zeros added on both sides of each spatial dimension.
    public var padding: Size2D
    /// The spacing between kernel taps.
    public var dilation: Size2D
    /// The number of blocked connections between input and output channels.
    public let groups: Int

    /// Creates the layer.
    ///
    /// - Parameters:
    ///   - inChannels, outChannels: channel counts, both divisible by `groups`.
    ///   - kernelSize: the filter size (`3` or `[3, 5]`).
    ///   - stride, padding, dilation: as in torch (1, 0, 1).
    ///   - groups: 1 for a full convolution, `inChannels` for a depthwise one.
    ///   - bias: whether to learn a bias (torch's default `true`).
    ///   - dtype: the parameters' element type.
    ///   - generator: the source of the initial values (the default generator when `nil`).
    public init(_ inChannels: Int, _ outChannels: Int, kernelSize: Size2D, stride: Size2D = 1, padding: Size2D = 0,
                dilation: Size2D = 1, groups: Int = 1, bias: Bool = true, dtype: DType = .float32,
                generator: Generator? = nil) {
        require(groups > 0 && inChannels % groups == 0 && outChannels % groups == 0,
                "Conv2d: channels \(inChannels) → \(outChannels) must both be divisible by groups \(groups)")
        weight = Tensor.zeros([outChannels, inChannels / groups, kernelSize.height, kernelSize.width],
                              dtype: dtype, requiresGrad: true)
        self.bias = bias ? Tensor.zeros([outChannels], dtype: dtype, requiresGrad: true) : nil
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
        super.init()
        Initializer.layerDefault(weight: weight, bias: self.bias, generator: generator)
    }

    public override func forward(_ input: Tensor) -> Tensor {
        input.conv2d(weight: weight, bias: bias, stride: stride, padding: padding, dilation: dilation, groups: groups)
    }

    public override var configurationDescription: String {
        var text = "\(weight.shape[1] * groups), \(weight.shape[0]), kernelSize: \(Size2D(weight.shape[2], weight.shape[3]))"
        if stride != 1 { text += ", stride: \(stride)" }
        if padding != 0 { text += ", padding: \(padding)" }
        if dilation != 1 { text += ", dilation: \(dilation)" }
        if groups != 1 { text += ", groups: \(groups)" }
        if bias == nil { text += ", bias: false" }
        return text
    }
}

/// A 1-D convolution layer over `[N, C, L]` sequences (torch's `nn.Conv1d`): weight
/// `[outChannels, inChannels/groups, k]`, initialized like ``Conv2d``.
public final class Conv1d: Module {
    /// The filters, `[outChannels, inChannels/groups, k]`.
    public var weight: Tensor
    /// One value per output channel, or `nil`.
    public var bias: Tensor?
    /// The step between output positions.
    public var stride: Int
    /// Zeros added at both ends.
    public var padding: Int
    /// The spacing between kernel taps.
    public var dilation: Int
    /// The number of blocked connections between input and output channels.
    public let groups: Int

    /// Creates the layer (parameters as ``Conv2d``'s, with one spatial dimension).
    public init(_ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
                dilation: Int = 1, groups: Int = 1, bias: Bool = true, dtype: DType = .float32,
                generator: Generator? = nil) {
        require(groups > 0 && inChannels % groups == 0 && outChannels % groups == 0,
                "Conv1d: channels \(inChannels) → \(outChannels) must both be divisible by groups \(groups)")
        weight = Tensor.zeros([outChannels, inChannels / groups, kernelSize], dtype: dtype, requiresGrad: true)
        self.bias = bias ? Tensor.zeros([outChannels], dtype: dtype, requiresGrad: true) : nil
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
        super.init()
        Initializer.layerDefault(weight: weight, bias: self.bias, generator: generator)
    }

    public override func forward(_ input: Tensor) -> Tensor {
        input.conv1d(weight: weight, bias: bias, stride: stride, padding: padding, dilation: dilation, groups: groups)
    }

    public override var configurationDescription: String {
        var text = "\(weight.shape[1] * groups), \(weight.shape[0]), kernelSize: \(weight.shape[2])"
        if stride != 1 { text += ", stride: \(stride)" }
        if padding != 0 { text += ", padding: \(padding)" }
        if dilation != 1 { text += ", dilation: \(dilation)" }
        if groups != 1 { text += ", groups: \(groups)" }
        if bias == nil { text += ", bias: false" }
        return text
    }
}

/// The 2-D transposed convolution of `input` (`[N, C, H, W]` or `[C, H, W]`) with `weight`
/// (`[C, O/groups, kH, kW]`) plus `bias` (`[O]`) (torch's `conv_transpose2d`; see
/// `Tensor.convTranspose2d(weight:bias:stride:padding:outputPadding:dilation:groups:)`).
public func convTranspose2d(_ input: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Size2D = 1,
                            padding: Size2D = 0, outputPadding: Size2D = 0, dilation: Size2D = 1,
                            groups: Int = 1) -> Tensor {
    input.convTranspose2d(weight: weight, bias: bias, stride: stride, padding: padding,
                          outputPadding: outputPadding, dilation: dilation, groups: groups)
}

/// The 1-D transposed convolution of `input` (`[N, C, L]` or `[C, L]`) with `weight`
/// (`[C, O/groups, k]`) plus `bias` (`[O]`) (torch's `conv_transpose1d`).
public func convTranspose1d(_ input: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Int = 1,
                            padding: Int = 0, outputPadding: Int = 0, dilation: Int = 1, groups: Int = 1) -> Tensor {
    input.convTranspose1d(weight: weight, bias: bias, stride: stride, padding: padding,
                          outputPadding: outputPadding, dilation: dilation, groups: groups)
}

/// A 2-D transposed convolution layer (torch's `nn.ConvTranspose2d`), the layer that doubles
/// an image's size in decoders and generators: with kernel 3, stride 2, padding 1 and output
/// padding 1, a `[N, C, H, W]` input becomes `[N, O, 2H, 2W]`.
///
/// The weight is `[inChannels, outChannels/groups, kH, kW]` (input channels first, unlike
/// ``Conv2d``) and the bias `[outChannels]`. Both are initialized like torch: Kaiming uniform
/// with a = √5, and the bias from U(−1/√fanIn, 1/√fanIn), where torch's fanIn is the weight's
/// second dimension times the kernel area, `outChannels/groups·kH·kW`.
public final class ConvTranspose2d: Module {
    /// The filters, `[inChannels, outChannels/groups, kH, kW]`.
    public var weight: Tensor
    /// One value per output channel, or `nil`.
    public var bias: Tensor?
    /// The step between the positions input values scatter to.
    public var stride: Size2D
    /// Rows and columns removed from both sides of the full output.
    public var padding: Size2D
    /// Rows and columns added at the bottom and right of the output.
    public var outputPadding: Size2D
    /// The spacing between kernel taps.
    public var dilation: Size2D
    /// The number of blocked connections between input and output channels.
    public let groups: Int

    /// Creates the layer.
    ///
    /// - Parameters:
    ///   - inChannels, outChannels: channel counts, both divisible by `groups`.
    ///   - kernelSize: the filter size (`3` or `[3, 5]`).
    ///   - stride, padding, outputPadding, dilation: as in torch (1, 0, 0, 1); each output
    ///     padding must be smaller than the stride or the dilation of its dimension.
    ///   - groups: the number of blocked connections (1).
    ///   - bias: whether to learn a bias (torch's default `true`).
    ///   - dtype: the parameters' element type.
    ///   - generator: the source of the initial values (the default generator when `nil`).
    public init(_ inChannels: Int, _ outChannels: Int, kernelSize: Size2D, stride: Size2D = 1, padding: Size2D = 0,
                outputPadding: Size2D = 0, dilation: Size2D = 1, groups: Int = 1, bias: Bool = true,
                dtype: DType = .float32, generator: Generator? = nil) {
        require(groups > 0 && inChannels % groups == 0 && outChannels % groups == 0,
                "ConvTranspose2d: channels \(inChannels) → \(outChannels) must both be divisible by groups \(groups)")
        require((outputPadding.height < stride.height || outputPadding.height < dilation.height)
                    && (outputPadding.width < stride.width || outputPadding.width < dilation.width),
                "ConvTranspose2d: output padding \(outputPadding) must be smaller than the stride \(stride) or the dilation \(dilation)")
        weight = Tensor.zeros([inChannels, outChannels / groups, kernelSize.height, kernelSize.width],
                              dtype: dtype, requiresGrad: true)
        self.bias = bias ? Tensor.zeros([outChannels], dtype: dtype, requiresGrad: true) : nil
        self.stride = stride
        self.padding = padding
        self.outputPadding = outputPadding
        self.dilation = dilation
        self.groups = groups
        super.init()
        Initializer.layerDefault(weight: weight, bias: self.bias, generator: generator)
    }

    public override func forward(_ input: Tensor) -> Tensor {
        input.convTranspose2d(weight: weight, bias: bias, stride: stride, padding: padding,
                              outputPadding: outputPadding, dilation: dilation, groups: groups)
    }

    public override var configurationDescription: String {
        var text = "\(weight.shape[0]), \(weight.shape[1] * groups), kernelSize: \(Size2D(weight.shape[2], weight.shape[3]))"
        if stride != 1 { text += ", stride: \(stride)" }
        if padding != 0 { text += ", padding: \(padding)" }
        if outputPadding != 0 { text += ", outputPadding: \(outputPadding)" }
        if dilation != 1 { text += ", dilation: \(dilation)" }
        if groups != 1 { text += ", groups: \(groups)" }
        if bias == nil { text += ", bias: false" }
        return text
    }
}

/// A 1-D transposed convolution layer over `[N, C, L]` sequences (torch's
/// `nn.ConvTranspose1d`): weight `[inChannels, outChannels/groups, k]`, initialized like
/// ``ConvTranspose2d``.
public final class ConvTranspose1d: Module {
    /// The filters, `[inChannels, outChannels/groups, k]`.
    public var weight: Tensor
    /// One value per output channel, or `nil`.
    public var bias: Tensor?
    /// The step between the positions input values scatter to.
    public var stride: Int
    /// Positions removed from both ends of the full output.
    public var padding: Int
    /// Positions added at the end of the output.
    public var outputPadding: Int
    /// The spacing between kernel taps.
    public var dilation: Int
    /// The number of blocked connections between input and output channels.
    public let groups: Int

    /// Creates the layer (parameters as ``ConvTranspose2d``'s, with one spatial dimension).
    public init(_ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
                outputPadding: Int = 0, dilation: Int = 1, groups: Int = 1, bias: Bool = true,
                dtype: DType = .float32, generator: Generator? = nil) {
        require(groups > 0 && inChannels % groups == 0 && outChannels % groups == 0,
                "ConvTranspose1d: channels \(inChannels) → \(outChannels) must both be divisible by groups \(groups)")
        require(outputPadding < stride || outputPadding < dilation,
                "ConvTranspose1d: output padding \(outputPadding) must be smaller than the stride \(stride) or the dilation \(dilation)")
        weight = Tensor.zeros([inChannels, outChannels / groups, kernelSize], dtype: dtype, requiresGrad: true)
        self.bias = bias ? Tensor.zeros([outChannels], dtype: dtype, requiresGrad: true) : nil
        self.stride = stride
        self.padding = padding
        self.outputPadding = outputPadding
        self.dilation = dilation
        self.groups = groups
        super.init()
        Initializer.layerDefault(weight: weight, bias: self.bias, generator: generator)
    }

    public override func forward(_ input: Tensor) -> Tensor {
        input.convTranspose1d(weight: weight, bias: bias, stride: stride, padding: padding,
                              outputPadding: outputPadding, dilation: dilation, groups: groups)
    }

    public override var configurationDescription: String {
        var text = "\(weight.shape[0]), \(weight.shape[1] * groups), kernelSize: \(weight.shape[2])"
        if stride != 1 { text += ", stride: \(stride)" }
        if padding != 0 { text += ", padding: \(padding)" }
        if outputPadding != 0 { text += ", outputPadding: \(outputPadding)" }
        if dilation != 1 { text += ", dilation: \(dilation)" }
        if groups != 1 { text += ", groups: \(groups)" }
        if bias == nil { text += ", bias: false" }
        return text
    }
}
