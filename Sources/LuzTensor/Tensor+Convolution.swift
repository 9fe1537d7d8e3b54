extension Tensor {
    /// The 2-D convolution (strictly, cross-correlation) of this `[N, C, H, W]` batch, or of a
    /// single `[C, H, W]` image, with `weight` (torch's `conv2d`):
    ///
    ///     out[n, o, y, x] = bias[o] + Σ_{c, i, j} weight[o, c, i, j] ·
    ///                       in[n, g·C/groups + c, y·sH − pH + i·dH, x·sW − pW + j·dW]
    ///
    /// where `g` is the group of output channel `o` and positions in the padding read 0. The
    /// result is `[N, O, OH, OW]` (or `[O, OH, OW]`), with `OH = ⌊(H + 2pH − dH(kH − 1) − 1) / sH⌋ + 1`
    /// and `OW` likewise.
    ///
    /// Differentiable with respect to the input, the weight and the bias. The forward pass and
    /// both gradients are GEMMs on im2col tiles of one image at a time, spread over the cores.
    /// A 3×3 kernel with stride 1, no dilation, one group and at least 16 input and output
    /// channels runs Winograd's F(2×2, 3×3) algorithm instead (2.25 times fewer multiply-adds,
    /// as oneDNN and cuDNN may choose); its results differ from a direct sum only by rounding
    /// (the tests hold float32 to 10⁻⁴ of the exact values, float64 to 10⁻¹⁰).
    ///
    /// - Parameters:
    ///   - weight: the filters, `[O, C/groups, kH, kW]` (torch's layout).
    ///   - bias: one value per output channel, `[O]`, or `nil`.
    ///   - stride: the step between output positions (1, as torch).
    ///   - padding: zeros added on both sides of each spatial dimension (0, as torch).
    ///   - dilation: the spacing between kernel taps (1, as torch).
    ///   - groups: the number of blocked connections: input and output channels are split in
    ///     `groups` equal parts and part `g` of the output sees only part `g` of the input
    ///     (1, as torch; `groups == C` is a depthwise convolution).
    public func conv2d(weight: Tensor, bias: Tensor? = nil, stride: Size2D = 1, padding: Size2D = 0,
                       dilation: Size2D = 1, groups: Int = 1) -> Tensor {
        require(rank == 3 || rank == 4,
                "conv2d: input \(describe(shape)) should be [N, C, H, W] or [C, H, W]")
        require(weight.rank == 4,
                "conv2d: weight \(describe(weight.shape)) should be [outChannels, inChannels/groups, kH, kW]")
        let batched = rank == 4
        let lead = batched ? 1 : 0
        let geometry = ConvGeometry(
            batch: batched ? shape[0] : 1, channels: shape[lead], height: shape[lead + 1], width: shape[lead + 2],
            outChannels: weight.shape[0], groups: groups,
            kernelHeight: weight.shape[2], kernelWidth: weight.shape[3],
            strideHeight: stride.height, strideWidth: stride.width,
            paddingHeight: padding.height, paddingWidth: padding.width,
            dilationHeight: dilation.height, dilationWidth: dilation.width)
        let outShape = (batched ? [geometry.batch] : [])
            + [geometry.outChannels, geometry.outHeight, geometry.outWidth]
        return convolution("conv2d", geometry, weight: weight, bias: bias, outShape: outShape,
                           stride: "\(stride)", padding: "\(padding)", dilation: "\(dilation)")
    }

    /// The 1-D convolution of this `[N, C, L]` batch, or of a single `[C, L]` sequence, with
    /// `weight` (torch's `conv1d`):
    ///
    ///     out[n, o, t] = bias[o] + Σ_{c, j} weight[o, c, j] · in[n, g·C/groups + c, t·s − p + j·d]
    ///
    /// The result is `[N, O, OL]` with `OL = ⌊(L + 2p − d(k − 1) − 1) / s⌋ + 1`. It runs on the
    /// kernels of ``conv2d(weight:bias:stride:padding:dilation:groups:)`` with a height of 1.
    ///
    /// - Parameters:
    ///   - weight: the filters, `[O, C/groups, k]`.
    ///   - bias: one value per output channel, `[O]`, or `nil`.
    ///   - stride: the step between output positions (1, as torch).
    ///   - padding: zeros added at both ends (0, as torch).
    ///   - dilation: the spacing between kernel taps (1, as torch).
    ///   - groups: the number of blocked connections between input and output channels (1).
    public func conv1d(weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0,
                       dilation: Int = 1, groups: Int = 1) -> Tensor {
        require(rank == 2 || rank == 3,
                "conv1d: input \(describe(shape)) should be [N, C, L] or [C, L]")
        require(weight.rank == 3,
                "conv1d: weight \(describe(weight.shape)) should be [outChannels, inChannels/groups, k]")
        let batched = rank == 3
        let lead = batched ? 1 : 0
        let geometry = ConvGeometry(
            batch: batched ? shape[0] : 1, channels: shape[lead], height: 1, width: shape[lead + 1],
            outChannels: weight.shape[0], groups: groups,
            kernelHeight: 1, kernelWidth: weight.shape[2],
            strideHeight: 1, strideWidth: stride, paddingHeight: 0, paddingWidth: padding,
            dilationHeight: 1, dilationWidth: dilation)
        let outShape = (batched ? [geometry.batch] : []) + [geometry.outChannels, geometry.outWidth]
        return convolution("conv1d", geometry, weight: weight, bias: bias, outShape: outShape,
                           stride: "\(stride)", padding: "\(padding)", dilation: "\(dilation)")
    }

    /// Checks the arguments of a convolution, runs the kernel and records its backward rule.
    /// The input, weight and output memory is read as `[N, C, H, W]`, `[O, C/g, kH, kW]` and
    /// `[N, O, OH, OW]` whatever their shapes (1-D and unbatched forms are the same bytes).
    private func convolution(_ op: String, _ geometry: ConvGeometry, weight: Tensor, bias: Tensor?,
                             outShape: [Int], stride: String, padding: String, dilation: String) -> Tensor {
        let g = geometry
        require(dtype.isFloatingPoint, "\(op): needs a floating-point input, got \(dtype)")
        require(weight.dtype == dtype,
                "\(op): input is \(dtype) but weight is \(weight.dtype); convert one with to(_:)")
        require(g.groups > 0, "\(op): groups must be positive, got \(g.groups)")
        require(g.strideHeight > 0 && g.strideWidth > 0, "\(op): stride must be positive, got \(stride)")
        require(g.dilationHeight > 0 && g.dilationWidth > 0,
                "\(op): dilation must be positive, got \(dilation)")
        require(g.paddingHeight >= 0 && g.paddingWidth >= 0,
                "\(op): padding must not be negative, got \(padding)")
        require(g.kernelHeight > 0 && g.kernelWidth > 0,
                "\(op): weight \(describe(weight.shape)) has an empty kernel")
        require(g.channels == weight.shape[1] * g.groups,
                "\(op): input \(describe(shape)) has \(g.channels) channels, weight \(describe(weight.shape)) expects \(weight.shape[1] * g.groups) (groups \(g.groups))")
        require(g.outChannels % g.groups == 0,
                "\(op): weight \(describe(weight.shape)) has \(g.outChannels) output channels, not divisible by groups \(g.groups)")
        if let bias {
            require(bias.shape == [g.outChannels],
                    "\(op): bias \(describe(bias.shape)) should be [\(g.outChannels)] for weight \(describe(weight.shape))")
            require(bias.dtype == dtype,
                    "\(op): input is \(dtype) but bias is \(bias.dtype); convert one with to(_:)")
        }
        require(g.outHeight > 0 && g.outWidth > 0,
                "\(op): input \(describe(shape)) with padding \(padding) is smaller than the kernel \(describe(Array(weight.shape.dropFirst(2)))) with dilation \(dilation): output size \(op == "conv1d" ? "\(g.outWidth)" : "\(g.outHeight) × \(g.outWidth)")")

        let out = Tensor.empty(outShape, dtype: dtype)
        // 3×3, stride 1, one group and enough channels: Winograd's F(2×2, 3×3), which keeps
        // nothing between the passes. Otherwise the weight gradient reads the same lowered
        // input as the forward pass: keep it when a backward pass will need it and it is not
        // too large.
        let winograd = WinogradConvolution.applies(to: g, elementSize: dtype.byteCount) ? WinogradConvolution(geometry: g) : nil
        // Depthwise (one input channel per group): direct kernels, nothing lowered or kept.
        let depthwise = winograd == nil && DepthwiseConvolution.applies(to: g) ? DepthwiseConvolution(geometry: g) : nil
        let savedCount = winograd == nil && depthwise == nil ? g.batch * g.groups * g.loweredCount : 0
        let saved: Tensor? = GradMode.isEnabled && weight.requiresGrad && out.count > 0 && savedCount > 0
            && savedCount * dtype.byteCount <= ConvolutionTuning.maximumSavedLoweredBytes
            ? Tensor.empty([savedCount], dtype: dtype) : nil
        if out.count > 0 {
            func forward<T: GemmScalar>(_: T.Type) {
                if let winograd {
                    winograd.forward(input: pointer(T.self), weight: weight.pointer(T.self),
                                     bias: bias.map { UnsafePointer($0.pointer(T.self)) }, output: out.pointer(T.self))
                    return
                }
                if let depthwise {
                    depthwise.forward(input: pointer(T.self), weight: weight.pointer(T.self),
                                      bias: bias.map { UnsafePointer($0.pointer(T.self)) }, output: out.pointer(T.self))
                    return
                }
                g.forward(input: pointer(T.self), weight: weight.pointer(T.self),
                          bias: bias.map { UnsafePointer($0.pointer(T.self)) }, output: out.pointer(T.self),
                          saveLowered: saved?.pointer(T.self))
            }
            withFloatType(dtype, op, float: { forward(Float.self) }, double: { forward(Double.self) })
        }
        var inputs: [Tensor] = [self, weight]
        if let bias { inputs.append(bias) }
        let hasBias = bias != nil
        return out.recording(op, inputs, saving: [self, weight]) { [self] gradient, need in
            let gradOutput = gradient.dtype == self.dtype ? gradient : gradient.to(self.dtype)
            let gradInput = need[0] ? Tensor.empty(self.shape, dtype: self.dtype) : nil
            let gradWeight = need[1] ? Tensor.empty(weight.shape, dtype: self.dtype) : nil
            let gradBias = hasBias && need[2] ? Tensor.empty([g.outChannels], dtype: self.dtype) : nil
            if g.batch == 0 {
                gradWeight?.fill(0)
                gradBias?.fill(0)
            } else {
                func backward<T: GemmScalar>(_: T.Type) {
                    if let winograd {
                        winograd.backward(input: self.pointer(T.self), weight: weight.pointer(T.self),
                                          gradOutput: gradOutput.pointer(T.self),
                                          gradInput: gradInput?.pointer(T.self), gradWeight: gradWeight?.pointer(T.self),
                                          gradBias: gradBias?.pointer(T.self))
                        return
                    }
                    if let depthwise {
                        depthwise.backward(input: self.pointer(T.self), weight: weight.pointer(T.self),
                                           gradOutput: gradOutput.pointer(T.self),
                                           gradInput: gradInput?.pointer(T.self), gradWeight: gradWeight?.pointer(T.self),
                                           gradBias: gradBias?.pointer(T.self))
                        return
                    }
                    g.backward(input: self.pointer(T.self), weight: weight.pointer(T.self),
                               gradOutput: gradOutput.pointer(T.self),
                               gradInput: gradInput?.pointer(T.self), gradWeight: gradWeight?.pointer(T.self),
                               gradBias: gradBias?.pointer(T.self),
                               savedLowered: saved.map { UnsafePointer($0.pointer(T.self)) })
                }
                withFloatType(self.dtype, op, float: { backward(Float.self) }, double: { backward(Double.self) })
            }
            return hasBias ? [gradInput, gradWeight, gradBias] : [gradInput, gradWeight]
        }
    }
}
