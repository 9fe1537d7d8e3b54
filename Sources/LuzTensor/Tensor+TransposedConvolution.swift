extension Tensor {
    /// The 2-D transposed convolution of this `[N, C, H, W]` batch, or of a single `[C, H, W]`
    /// image, with `weight` (torch's `conv_transpose2d`, sometimes called a fractionally strided
    /// convolution or, loosely, a deconvolution).
    ///
    /// It is the adjoint of ``conv2d(weight:bias:stride:padding:dilation:groups:)`` with the same
    /// weight, stride, padding and dilation: every input value scatters a copy of its filter,
    /// scaled by the value, onto the output,
    ///
    ///     out[n, g·O/groups + o, y·sH − pH + i·dH, x·sW − pW + j·dW] += in[n, c, y, x] · weight[c, o, i, j]
    ///
    /// for every input channel `c` of group `g`, plus `bias`. Positions that land in the
    /// padding are dropped. The result is `[N, O, OH, OW]` (or `[O, OH, OW]`) with
    /// `OH = (H − 1)·sH − 2pH + dH(kH − 1) + opH + 1` and `OW` likewise, so that a `conv2d`
    /// with the same arguments maps the output's shape back to the input's.
    ///
    /// Differentiable with respect to the input, the weight and the bias. The passes run on
    /// the kernels of `conv2d`: this forward pass is `conv2d`'s input gradient, the input
    /// gradient is a `conv2d` forward pass, the weight gradient is `conv2d`'s weight gradient
    /// with the roles of input and output exchanged.
    ///
    /// - Parameters:
    ///   - weight: the filters, `[C, O/groups, kH, kW]` (torch's layout: input channels first).
    ///   - bias: one value per output channel, `[O]`, or `nil`.
    ///   - stride: the step between the positions input values scatter to (1, as torch).
    ///   - padding: rows and columns removed from both sides of the full output (0, as torch);
    ///     it is the padding of the `conv2d` this operation transposes.
    ///   - outputPadding: rows and columns added on one side (bottom, right) of the output, to
    ///     choose among the sizes a strided `conv2d` maps to the same input size (0, as torch).
    ///     Each must be smaller than the stride or the dilation of its dimension.
    ///   - dilation: the spacing between kernel taps (1, as torch).
    ///   - groups: the number of blocked connections between input and output channels (1).
    public func convTranspose2d(weight: Tensor, bias: Tensor? = nil, stride: Size2D = 1, padding: Size2D = 0,
                                outputPadding: Size2D = 0, dilation: Size2D = 1, groups: Int = 1) -> Tensor {
        require(rank == 3 || rank == 4,
                "convTranspose2d: input \(describe(shape)) should be [N, C, H, W] or [C, H, W]")
        require(weight.rank == 4,
                "convTranspose2d: weight \(describe(weight.shape)) should be [inChannels, outChannels/groups, kH, kW]")
        let batched = rank == 4
        let lead = batched ? 1 : 0
        let sizes = TransposedConvSizes(
            op: "convTranspose2d", input: self, weight: weight, groups: groups,
            spatial: [shape[lead + 1], shape[lead + 2]], kernel: [weight.shape[2], weight.shape[3]],
            stride: [stride.height, stride.width], padding: [padding.height, padding.width],
            outputPadding: [outputPadding.height, outputPadding.width],
            dilation: [dilation.height, dilation.width])
        let geometry = ConvGeometry(
            batch: batched ? shape[0] : 1, channels: sizes.outChannels,
            height: sizes.output[0], width: sizes.output[1],
            outChannels: shape[lead], groups: groups,
            kernelHeight: weight.shape[2], kernelWidth: weight.shape[3],
            strideHeight: stride.height, strideWidth: stride.width,
            paddingHeight: padding.height, paddingWidth: padding.width,
            dilationHeight: dilation.height, dilationWidth: dilation.width)
        let outShape = (batched ? [geometry.batch] : []) + [sizes.outChannels] + sizes.output
        return transposedConvolution("convTranspose2d", geometry, weight: weight, bias: bias, outShape: outShape,
                                     spatialRank: 2)
    }

    /// The 1-D transposed convolution of this `[N, C, L]` batch, or of a single `[C, L]`
    /// sequence, with `weight` (torch's `conv_transpose1d`): the adjoint of
    /// ``conv1d(weight:bias:stride:padding:dilation:groups:)``, as
    /// ``convTranspose2d(weight:bias:stride:padding:outputPadding:dilation:groups:)`` is of
    /// `conv2d`. The result is `[N, O, OL]` with `OL = (L − 1)·s − 2p + d(k − 1) + op + 1`.
    ///
    /// - Parameters:
    ///   - weight: the filters, `[C, O/groups, k]`.
    ///   - bias: one value per output channel, `[O]`, or `nil`.
    ///   - stride, padding, outputPadding, dilation, groups: as for `convTranspose2d` (1, 0, 0, 1, 1).
    public func convTranspose1d(weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0,
                                outputPadding: Int = 0, dilation: Int = 1, groups: Int = 1) -> Tensor {
        require(rank == 2 || rank == 3,
                "convTranspose1d: input \(describe(shape)) should be [N, C, L] or [C, L]")
        require(weight.rank == 3,
                "convTranspose1d: weight \(describe(weight.shape)) should be [inChannels, outChannels/groups, k]")
        let batched = rank == 3
        let lead = batched ? 1 : 0
        let sizes = TransposedConvSizes(
            op: "convTranspose1d", input: self, weight: weight, groups: groups,
            spatial: [shape[lead + 1]], kernel: [weight.shape[2]], stride: [stride], padding: [padding],
            outputPadding: [outputPadding], dilation: [dilation])
        let geometry = ConvGeometry(
            batch: batched ? shape[0] : 1, channels: sizes.outChannels, height: 1, width: sizes.output[0],
            outChannels: shape[lead], groups: groups,
            kernelHeight: 1, kernelWidth: weight.shape[2],
            strideHeight: 1, strideWidth: stride, paddingHeight: 0, paddingWidth: padding,
            dilationHeight: 1, dilationWidth: dilation)
        let outShape = (batched ? [geometry.batch] : []) + [sizes.outChannels] + sizes.output
        return transposedConvolution("convTranspose1d", geometry, weight: weight, bias: bias, outShape: outShape,
                                     spatialRank: 1)
    }

    /// Runs a transposed convolution on the kernels of the `conv2d` whose geometry `g`
    /// describes (its input is this operation's output and its output this operation's input)
    /// and records the backward rule; the last `spatialRank` dimensions of this tensor are
    /// spatial.
    private func transposedConvolution(_ op: String, _ g: ConvGeometry, weight: Tensor, bias: Tensor?,
                                       outShape: [Int], spatialRank: Int) -> Tensor {
        if let bias {
            require(bias.shape == [g.channels],
                    "\(op): bias \(describe(bias.shape)) should be [\(g.channels)] for weight \(describe(weight.shape)) and groups \(g.groups)")
            require(bias.dtype == dtype,
                    "\(op): input is \(dtype) but bias is \(bias.dtype); convert one with to(_:)")
        }
        // An output padding of at least the stride (allowed when the dilation is larger) adds
        // output positions no input value reaches: the conv2d of the output is then larger
        // than the input, which is read as if padded with zeros there.
        let spatial = Array(shape.suffix(spatialRank))
        let reached = spatial.count == 1 ? [g.outWidth] : [g.outHeight, g.outWidth]
        if reached != spatial {
            var pads: [Int] = []
            for (size, target) in zip(spatial, reached).reversed() { pads += [0, target - size] }
            return padded(pads).transposedConvolution(op, g, weight: weight, bias: bias, outShape: outShape,
                                                            spatialRank: spatialRank)
        }

        let out = Tensor.empty(outShape, dtype: dtype)
        let plane = g.inputPlane
        if out.count > 0 {
            func forward<T: GemmScalar>(_: T.Type) {
                let output = out.pointer(T.self)
                if g.batch * g.outChannels * g.outputPlane == 0 {
                    output.update(repeating: 0, count: out.count)
                } else {
                    // The output plays conv2d's input gradient; `input` is not read without
                    // a weight gradient.
                    g.backward(input: UnsafePointer(output), weight: weight.pointer(T.self), gradOutput: pointer(T.self),
                               gradInput: output, gradWeight: nil, gradBias: nil)
                }
                if let bias {
                    let values = bias.pointer(T.self)
                    for n in 0..<g.batch {
                        for c in 0..<g.channels {
                            let row = output + (n * g.channels + c) * plane, value = values[c]
                            for i in 0..<plane { row[i] += value }
                        }
                    }
                }
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
            let gradBias = hasBias && need[2] ? Tensor.empty([g.channels], dtype: self.dtype) : nil
            func backward<T: GemmScalar>(_: T.Type) {
                let gy = gradOutput.pointer(T.self)
                // Both gradients lower the output gradient the same way: lower it once, when
                // that fits in the limit the convolutions keep for their saved lowering.
                let loweredCount = g.batch * g.groups * g.loweredCount
                let lowered: Tensor? = (gradInput?.count ?? 0) > 0 && gradWeight != nil && loweredCount > 0
                    && loweredCount * self.dtype.byteCount <= ConvolutionTuning.maximumSavedLoweredBytes
                    ? Tensor.empty([loweredCount], dtype: self.dtype) : nil
                if let gradInput, gradInput.count > 0 {
                    g.forward(input: gy, weight: weight.pointer(T.self), bias: nil, output: gradInput.pointer(T.self),
                              saveLowered: lowered?.pointer(T.self))
                }
                if let gradWeight {
                    if g.batch == 0 || self.count == 0 {
                        gradWeight.fill(0)
                    } else {
                        g.backward(input: gy, weight: weight.pointer(T.self), gradOutput: self.pointer(T.self),
                                   gradInput: nil, gradWeight: gradWeight.pointer(T.self), gradBias: nil,
                                   savedLowered: lowered.map { UnsafePointer($0.pointer(T.self)) })
                    }
                }
                if let gradBias {
                    let sums = gradBias.pointer(T.self)
                    if g.batch == 0 { sums.update(repeating: 0, count: g.channels) }
                    for n in 0..<g.batch {
                        addBiasGradient(gy + n * g.channels * plane, channels: g.channels, plane: plane,
                                        into: sums, accumulate: n > 0)
                    }
                }
            }
            withFloatType(self.dtype, op, float: { backward(Float.self) }, double: { backward(Double.self) })
            return hasBias ? [gradInput, gradWeight, gradBias] : [gradInput, gradWeight]
        }
    }
}

/// The checked output sizes of a transposed convolution.
private struct TransposedConvSizes {
    /// The number of output channels, `weight.shape[1] · groups`.
    let outChannels: Int
    /// The spatial output sizes, `(size − 1)·s − 2p + d(k − 1) + op + 1` each.
    let output: [Int]

    init(op: String, input: Tensor, weight: Tensor, groups: Int, spatial: [Int], kernel: [Int],
         stride: [Int], padding: [Int], outputPadding: [Int], dilation: [Int]) {
        let channels = input.shape[input.rank - spatial.count - 1]
        let text = { (values: [Int]) in values.count == 1 ? "\(values[0])" : "\(values)" }
        require(input.dtype.isFloatingPoint, "\(op): needs a floating-point input, got \(input.dtype)")
        require(weight.dtype == input.dtype,
                "\(op): input is \(input.dtype) but weight is \(weight.dtype); convert one with to(_:)")
        require(groups > 0, "\(op): groups must be positive, got \(groups)")
        require(stride.allSatisfy { $0 > 0 }, "\(op): stride must be positive, got \(text(stride))")
        require(dilation.allSatisfy { $0 > 0 }, "\(op): dilation must be positive, got \(text(dilation))")
        require(padding.allSatisfy { $0 >= 0 }, "\(op): padding must not be negative, got \(text(padding))")
        require(kernel.allSatisfy { $0 > 0 }, "\(op): weight \(describe(weight.shape)) has an empty kernel")
        require(outputPadding.indices.allSatisfy { outputPadding[$0] >= 0
                    && (outputPadding[$0] < stride[$0] || outputPadding[$0] < dilation[$0]) },
                "\(op): output padding must be smaller than the stride or the dilation, got output padding \(text(outputPadding)), stride \(text(stride)), dilation \(text(dilation))")
        require(channels == weight.shape[0],
                "\(op): input \(describe(input.shape)) has \(channels) channels, weight \(describe(weight.shape)) expects \(weight.shape[0])")
        require(channels % groups == 0,
                "\(op): \(channels) input channels are not divisible by groups \(groups)")
        outChannels = weight.shape[1] * groups
        output = spatial.indices.map { d in
            (spatial[d] - 1) * stride[d] - 2 * padding[d] + dilation[d] * (kernel[d] - 1) + outputPadding[d] + 1
        }
        require(output.allSatisfy { $0 > 0 },
                "\(op): input \(describe(input.shape)) with padding \(text(padding)) gives an output size of \(text(output)); it must be positive")
    }
}
