import Foundation
import LuzTensor
import LuzTestSupport
import Testing

/// The sizes of one convolution for the naive reference below.
private struct ConvCase: CustomStringConvertible {
    var batch = 1, channels = 1, height = 3, width = 3
    var outChannels = 1, groups = 1, kernelHeight = 2, kernelWidth = 2
    var stride = (1, 1), padding = (0, 0), dilation = (1, 1)
    var bias = true

    var outHeight: Int { (height + 2 * padding.0 - dilation.0 * (kernelHeight - 1) - 1) / stride.0 + 1 }
    var outWidth: Int { (width + 2 * padding.1 - dilation.1 * (kernelWidth - 1) - 1) / stride.1 + 1 }
    var inputShape: [Int] { [batch, channels, height, width] }
    var weightShape: [Int] { [outChannels, channels / groups, kernelHeight, kernelWidth] }
    var outputShape: [Int] { [batch, outChannels, outHeight, outWidth] }
    var valid: Bool {
        height + 2 * padding.0 - dilation.0 * (kernelHeight - 1) - 1 >= 0
            && width + 2 * padding.1 - dilation.1 * (kernelWidth - 1) - 1 >= 0
    }

    var description: String {
        "input \(inputShape) weight \(weightShape) stride \(stride) padding \(padding) dilation \(dilation) groups \(groups) bias \(bias)"
    }

    /// Calls `body(n, o, y, x, inputIndex, weightIndex)` for every multiply of the convolution:
    /// the seven loops of the definition, with taps in the padding skipped.
    func forEachTap(_ body: (Int, Int, Int, Int, Int, Int) -> Void) {
        let cg = channels / groups, og = outChannels / groups
        for n in 0..<batch {
            for o in 0..<outChannels {
                let g = o / og
                for y in 0..<outHeight {
                    for x in 0..<outWidth {
                        for c in 0..<cg {
                            for i in 0..<kernelHeight {
                                for j in 0..<kernelWidth {
                                    let iy = y * stride.0 - padding.0 + i * dilation.0
                                    let ix = x * stride.1 - padding.1 + j * dilation.1
                                    guard iy >= 0, iy < height, ix >= 0, ix < width else { continue }
                                    let input = ((n * channels + g * cg + c) * height + iy) * width + ix
                                    let weight = ((o * cg + c) * kernelHeight + i) * kernelWidth + j
                                    body(n, o, y, x, input, weight)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// The convolution computed from its definition, in `Double`.
    func reference(input: [Double], weight: [Double], bias: [Double]?) -> [Double] {
        var out = [Double](repeating: 0, count: outputShape.reduce(1, *))
        forEachTap { n, o, y, x, i, w in
            out[((n * outChannels + o) * outHeight + y) * outWidth + x] += input[i] * weight[w]
        }
        if let bias {
            for index in out.indices { out[index] += bias[(index / (outHeight * outWidth)) % outChannels] }
        }
        return out
    }

    /// The gradients of `Σ out · upstream` from the definition: each multiply's adjoints.
    func referenceGradients(input: [Double], weight: [Double], upstream: [Double])
        -> (input: [Double], weight: [Double], bias: [Double]) {
        var gi = [Double](repeating: 0, count: input.count)
        var gw = [Double](repeating: 0, count: weight.count)
        var gb = [Double](repeating: 0, count: outChannels)
        forEachTap { n, o, y, x, i, w in
            let g = upstream[((n * outChannels + o) * outHeight + y) * outWidth + x]
            gi[i] += g * weight[w]
            gw[w] += g * input[i]
        }
        for index in upstream.indices { gb[(index / (outHeight * outWidth)) % outChannels] += upstream[index] }
        return (gi, gw, gb)
    }

    /// Runs Luz's convolution on these sizes.
    func run(_ input: Tensor, _ weight: Tensor, _ bias: Tensor?) -> Tensor {
        input.conv2d(weight: weight, bias: bias, stride: Size2D(stride.0, stride.1),
                     padding: Size2D(padding.0, padding.1), dilation: Size2D(dilation.0, dilation.1),
                     groups: groups)
    }
}

/// Forward values and gradients against the definition, in both float types, for one case.
private func compareWithReference(_ c: ConvCase, dtype: DType, seed: UInt64,
                                  sourceLocation: SourceLocation = #_sourceLocation) {
    let generator = Generator(seed: seed)
    let input = Tensor.uniform(c.inputShape, low: -1, high: 1, dtype: dtype, generator: generator, requiresGrad: true)
    let weight = Tensor.uniform(c.weightShape, low: -1, high: 1, dtype: dtype, generator: generator, requiresGrad: true)
    let bias = c.bias
        ? Tensor.uniform([c.outChannels], low: -1, high: 1, dtype: dtype, generator: generator, requiresGrad: true)
        : nil
    let upstream = Tensor.uniform(c.outputShape, low: -1, high: 1, dtype: dtype, generator: generator)
    let out = c.run(input, weight, bias)
    let (rtol, atol) = dtype == .float32 ? (1e-4, 1e-4) : (1e-10, 1e-12)
    let expected = c.reference(input: input.doubles, weight: weight.doubles, bias: bias?.doubles)
    #expect(out.dtype == dtype)
    assertClose(out, Tensor(expected, shape: c.outputShape), rtol: rtol, atol: atol,
                "conv2d \(dtype) \(c)", sourceLocation: sourceLocation)
    out.backward(upstream)
    let grads = c.referenceGradients(input: input.doubles, weight: weight.doubles, upstream: upstream.doubles)
    assertClose(input.grad!, Tensor(grads.input, shape: c.inputShape), rtol: rtol, atol: atol,
                "input gradient \(dtype) \(c)", sourceLocation: sourceLocation)
    assertClose(weight.grad!, Tensor(grads.weight, shape: c.weightShape), rtol: rtol, atol: atol,
                "weight gradient \(dtype) \(c)", sourceLocation: sourceLocation)
    if let bias {
        assertClose(bias.grad!, Tensor(grads.bias, shape: [c.outChannels]), rtol: rtol, atol: atol,
                    "bias gradient \(dtype) \(c)", sourceLocation: sourceLocation)
    }
}

@Suite("Convolution")
struct ConvolutionTests {
    // MARK: Golden values

    @Test func threeByThreeWithTwoByTwoKernel() {
        // 1 2 3 / 4 5 6 / 7 8 9 against the kernel 1 2 / 3 4: 1·1 + 2·2 + 4·3 + 5·4 = 37, …
        let input = Tensor((1...9).map(Float.init), shape: [1, 1, 3, 3])
        let weight = Tensor([1, 2, 3, 4] as [Float], shape: [1, 1, 2, 2])
        let out = input.conv2d(weight: weight)
        #expect(out.shape == [1, 1, 2, 2])
        #expect(out.floats == [37, 47, 67, 77])
        #expect(input.conv2d(weight: weight, bias: Tensor([1] as [Float])).floats == [38, 48, 68, 78])
        // Padding 1, stride 2: the corners see one, two or four taps of the kernel.
        #expect(input.conv2d(weight: weight, stride: 2, padding: 1).floats == [4, 18, 36, 77])
        // Dilation 2: the four corners 1, 3, 7, 9.
        #expect(input.conv2d(weight: weight, dilation: 2).floats == [1 + 6 + 21 + 36])
        // Unbatched input, as torch accepts.
        let single = Tensor((1...9).map(Float.init), shape: [1, 3, 3]).conv2d(weight: weight)
        #expect(single.shape == [1, 2, 2] && single.floats == [37, 47, 67, 77])
    }

    @Test func groupsSeeOnlyTheirChannels() {
        // Two channels of ones and twos, two groups of one 1×1 filter each (weights 10 and 100).
        let input = Tensor([1, 1, 1, 1, 2, 2, 2, 2] as [Double], shape: [1, 2, 2, 2])
        let weight = Tensor([10, 100] as [Double], shape: [2, 1, 1, 1])
        let out = input.conv2d(weight: weight, bias: Tensor([0.5, -0.5]), groups: 2)
        #expect(out.doubles == [10.5, 10.5, 10.5, 10.5, 199.5, 199.5, 199.5, 199.5])
    }

    @Test func conv1dGolden() {
        let x = Tensor([1, 2, 3, 4] as [Float], shape: [1, 1, 4])
        #expect(x.conv1d(weight: Tensor([1, -1] as [Float], shape: [1, 1, 2])).floats == [-1, -1, -1])
        // x[t−1] − x[t+1] with zero padding at both ends.
        let out = x.conv1d(weight: Tensor([1, 0, -1] as [Float], shape: [1, 1, 3]), padding: 1)
        #expect(out.shape == [1, 1, 4] && out.floats == [-2, -2, -2, 3])
        let strided = x.conv1d(weight: Tensor([1, 1] as [Float], shape: [1, 1, 2]), bias: Tensor([10] as [Float]),
                               stride: 2)
        #expect(strided.floats == [13, 17])
        // Unbatched, dilation 2: taps 1, 3, 5.
        let unbatched = Tensor([1, 2, 3, 4, 5] as [Float], shape: [1, 5])
            .conv1d(weight: Tensor([1, 1, 1] as [Float], shape: [1, 1, 3]), dilation: 2)
        #expect(unbatched.shape == [1, 1] && unbatched.floats == [9])
    }

    // MARK: Against the definition

    @Test(arguments: [DType.float32, .float64])
    func matchesTheSevenLoopDefinitionOnRandomShapes(dtype: DType) {
        let generator = Generator(seed: 2024)
        var tested = 0
        while tested < 12 {
            var c = ConvCase()
            c.batch = 1 + generator.nextInt(below: 3)
            c.groups = 1 + generator.nextInt(below: 3)
            // Up to 8 channels per group: deep enough (C/g · kW ≥ 16) for the kernel-row
            // lowering as well as the full im2col.
            c.channels = c.groups * (1 + generator.nextInt(below: 8))
            c.outChannels = c.groups * (1 + generator.nextInt(below: 3))
            c.height = 1 + generator.nextInt(below: 8)
            c.width = 1 + generator.nextInt(below: 8)
            c.kernelHeight = 1 + generator.nextInt(below: 3)
            c.kernelWidth = 1 + generator.nextInt(below: 3)
            c.stride = (1 + generator.nextInt(below: 2), 1 + generator.nextInt(below: 3))
            c.padding = (generator.nextInt(below: 3), generator.nextInt(below: 2))
            c.dilation = (1 + generator.nextInt(below: 2), 1 + generator.nextInt(below: 2))
            c.bias = generator.nextInt(below: 2) == 0
            guard c.valid else { continue }
            compareWithReference(c, dtype: dtype, seed: UInt64(tested))
            tested += 1
        }
    }

    @Test(arguments: [DType.float32, .float64])
    func depthwiseMatchesTheSevenLoopDefinition(dtype: DType) {
        // One input channel per group runs the direct depthwise kernels: channel multipliers 1
        // and 2, strides 1–3, padding, dilation, rectangular kernels, taps wider than the row,
        // and a batch large enough to split over threads.
        var cases: [ConvCase] = []
        for (multiplier, stride, padding, dilation, kernel) in [
            (1, (1, 1), (1, 1), (1, 1), (3, 3)), (1, (2, 2), (1, 1), (1, 1), (3, 3)),
            (2, (1, 2), (0, 2), (1, 1), (2, 3)), (1, (3, 1), (2, 0), (2, 1), (3, 2)),
            (2, (2, 3), (1, 1), (1, 2), (3, 3)), (1, (1, 1), (2, 2), (1, 1), (5, 5)),
        ] as [(Int, (Int, Int), (Int, Int), (Int, Int), (Int, Int))] {
            var c = ConvCase(batch: 2, channels: 3, height: 7, width: 6, outChannels: 3 * multiplier, groups: 3,
                             kernelHeight: kernel.0, kernelWidth: kernel.1)
            c.stride = stride
            c.padding = padding
            c.dilation = dilation
            cases.append(c)
        }
        var large = ConvCase(batch: 6, channels: 16, height: 14, width: 13, outChannels: 16, groups: 16,
                             kernelHeight: 3, kernelWidth: 3)
        large.padding = (1, 1)
        large.stride = (2, 2)
        cases.append(large)
        large.stride = (1, 1)
        cases.append(large)
        for (i, c) in cases.enumerated() {
            #expect(c.valid, "\(c)")
            compareWithReference(c, dtype: dtype, seed: UInt64(100 + i))
        }
    }

    @Test(arguments: [DType.float32, .float64])
    func matchesTheDefinitionOnTheParallelPath(dtype: DType) {
        // Large enough (≈ 0.5 MFLOP) that the images are split across threads, with partial
        // weight and bias gradients summed at the end.
        var c = ConvCase(batch: 5, channels: 8, height: 12, width: 11, outChannels: 6,
                         kernelHeight: 3, kernelWidth: 3)
        c.padding = (1, 1)
        compareWithReference(c, dtype: dtype, seed: 11)
        // The 1×1 fast path (no im2col), with groups.
        var pointwise = ConvCase(batch: 6, channels: 32, height: 16, width: 16, outChannels: 32, groups: 2,
                                 kernelHeight: 1, kernelWidth: 1)
        pointwise.bias = true
        compareWithReference(pointwise, dtype: dtype, seed: 12)
    }

    @Test(arguments: [DType.float32, .float64])
    func eachLoweringMatchesTheDefinition(dtype: DType) {
        // Kernel-row lowering (stride 1 in height, C/g · kW ≥ 16) with every option it handles.
        var rows = ConvCase(batch: 2, channels: 16, height: 7, width: 9, outChannels: 4, groups: 2,
                            kernelHeight: 3, kernelWidth: 3)
        rows.stride = (1, 2)
        rows.padding = (2, 1)
        rows.dilation = (2, 1)
        compareWithReference(rows, dtype: dtype, seed: 21)
        var tall = ConvCase(batch: 1, channels: 8, height: 6, width: 5, outChannels: 3,
                            kernelHeight: 4, kernelWidth: 2)
        tall.padding = (0, 1)
        tall.dilation = (1, 2)
        tall.bias = false
        compareWithReference(tall, dtype: dtype, seed: 22)
        // Full im2col: a stride of 2 in height, and a shallow kernel (one channel).
        var strided = ConvCase(batch: 2, channels: 8, height: 9, width: 7, outChannels: 4,
                               kernelHeight: 3, kernelWidth: 3)
        strided.stride = (2, 1)
        strided.padding = (1, 1)
        compareWithReference(strided, dtype: dtype, seed: 23)
        let shallow = ConvCase(batch: 2, channels: 1, height: 8, width: 8, outChannels: 5,
                               kernelHeight: 3, kernelWidth: 3)
        compareWithReference(shallow, dtype: dtype, seed: 24)
        // No lowering: 1×1, stride 1, no padding.
        let pointwise = ConvCase(batch: 2, channels: 6, height: 4, width: 3, outChannels: 4, groups: 2,
                                 kernelHeight: 1, kernelWidth: 1)
        compareWithReference(pointwise, dtype: dtype, seed: 25)
        // Stride 2: a small output plane (lowered through a table of positions), and a large
        // one whose rows are long enough for the eight-lane gather and scatter, with the
        // padding clipping both ends and a tail of odd length.
        for (height, width) in [(6, 37), (5, 4), (41, 40)] {
            var wide = ConvCase(batch: 2, channels: 3, height: height, width: width, outChannels: 4,
                                kernelHeight: 3, kernelWidth: 3)
            wide.stride = (2, 2)
            wide.padding = (1, 1)
            compareWithReference(wide, dtype: dtype, seed: 26)
        }
    }

    @Test(arguments: [DType.float32, .float64])
    func winogradMatchesTheDefinition(dtype: DType) {
        // 3×3, stride 1, one group, ≥ 16 channels each side: Winograd's F(2×2, 3×3). Odd output
        // sizes leave partial tiles at the bottom and right; each padding shifts the tiles.
        for (index, padding) in [(0, 0), (1, 1), (2, 1), (0, 3)].enumerated() {
            var c = ConvCase(batch: 3, channels: 16, height: 7, width: 8, outChannels: 17,
                             kernelHeight: 3, kernelWidth: 3)
            c.padding = padding
            c.bias = index != 2
            compareWithReference(c, dtype: dtype, seed: 30 + UInt64(index))
        }
        // Rows of 16 columns and more take the vector paths, odd and even, with both parities
        // of padding.
        for (index, (width, padding)) in [(18, 0), (19, 1), (33, 2), (16, 3)].enumerated() {
            var wide = ConvCase(batch: 2, channels: 16, height: 4, width: width, outChannels: 16,
                                kernelHeight: 3, kernelWidth: 3)
            wide.padding = (1, padding)
            compareWithReference(wide, dtype: dtype, seed: 40 + UInt64(index))
        }
        // An image smaller than the kernel, made whole by the padding: one partial tile.
        let tiny = ConvCase(batch: 2, channels: 16, height: 1, width: 2, outChannels: 16,
                            kernelHeight: 3, kernelWidth: 3, padding: (1, 1))
        compareWithReference(tiny, dtype: dtype, seed: 45)
        // More images than the gradient's chunks, and blocks of several images.
        let batch = ConvCase(batch: 19, channels: 20, height: 5, width: 5, outChannels: 16,
                             kernelHeight: 3, kernelWidth: 3, padding: (1, 1))
        compareWithReference(batch, dtype: dtype, seed: 35)
    }

    @Test func batchGradientsAreSumsOfImageGradients() {
        // The batch runs on several threads, each image alone on one: both must agree.
        let generator = Generator(seed: 5)
        let input = Tensor.randn([4, 8, 12, 12], generator: generator)
        let weight = Tensor.randn([8, 8, 3, 3], generator: generator, requiresGrad: true)
        let bias = Tensor.randn([8], generator: generator, requiresGrad: true)
        input.conv2d(weight: weight, bias: bias, padding: 1).pow(2).sum().backward()
        let batchWeightGrad = weight.grad!.cloned(), batchBiasGrad = bias.grad!.cloned()
        weight.zeroGrad()
        bias.zeroGrad()
        for n in 0..<4 {
            input.selected(dim: 0, index: n).conv2d(weight: weight, bias: bias, padding: 1).pow(2).sum().backward()
        }
        assertClose(batchWeightGrad, weight.grad!, rtol: 1e-4, atol: 1e-3)
        assertClose(batchBiasGrad, bias.grad!, rtol: 1e-4, atol: 1e-3)
    }

    // MARK: Gradient checks (float64, finite differences)

    @Test func gradientsWithBiasStrideAndPadding() {
        let x = gradInput([2, 3, 5, 5], seed: 1)
        let w = gradInput([4, 3, 3, 3], seed: 2)
        let b = gradInput([4], seed: 3)
        checkGradients([x, w, b], "plain") { $0[0].conv2d(weight: $0[1], bias: $0[2]) }
        checkGradients([x, w, b], "stride 2, padding 1") {
            $0[0].conv2d(weight: $0[1], bias: $0[2], stride: 2, padding: 1)
        }
        checkGradients([x, w], "no bias, padding 2") { $0[0].conv2d(weight: $0[1], padding: 2) }
    }

    @Test func gradientsWithNonSquareKernelsAndDilation() {
        let x = gradInput([2, 2, 6, 7], seed: 4)
        let w = gradInput([3, 2, 2, 3], seed: 5)
        let b = gradInput([3], seed: 6)
        checkGradients([x, w, b], "2×3 kernel, stride (2, 1), padding (1, 0)") {
            $0[0].conv2d(weight: $0[1], bias: $0[2], stride: [2, 1], padding: [1, 0])
        }
        checkGradients([x, w], "dilation (2, 1), padding (1, 2)") {
            $0[0].conv2d(weight: $0[1], padding: [1, 2], dilation: [2, 1])
        }
        checkGradients([x, w, b], "dilation 2, stride 2") {
            $0[0].conv2d(weight: $0[1], bias: $0[2], stride: 2, dilation: 2)
        }
    }

    @Test func gradientsWithGroups() {
        let x = gradInput([2, 4, 5, 6], seed: 7)
        let w = gradInput([6, 2, 3, 2], seed: 8)
        let b = gradInput([6], seed: 9)
        checkGradients([x, w, b], "groups 2, stride (1, 2)") {
            $0[0].conv2d(weight: $0[1], bias: $0[2], stride: [1, 2], padding: 1, groups: 2)
        }
        let depthwise = gradInput([4, 1, 3, 3], seed: 10)
        checkGradients([x, depthwise], "depthwise (groups = channels)") {
            $0[0].conv2d(weight: $0[1], padding: 1, groups: 4)
        }
        let pointwise = gradInput([6, 2, 1, 1], seed: 11)
        checkGradients([x, pointwise, b], "1×1 with groups (no im2col)") {
            $0[0].conv2d(weight: $0[1], bias: $0[2], groups: 2)
        }
    }

    @Test func gradientsWithKernelRowLowering() {
        // Enough channels per group (C/g · kW ≥ 16) for the kernel-row lowering.
        let x = gradInput([1, 12, 5, 6], seed: 19)
        let w = gradInput([4, 6, 3, 3], seed: 20)
        let b = gradInput([4], seed: 21)
        checkGradients([x, w, b], "groups 2, padding 1, stride (1, 2)") {
            $0[0].conv2d(weight: $0[1], bias: $0[2], stride: [1, 2], padding: 1, groups: 2)
        }
        let deep = gradInput([2, 12, 3, 3], seed: 22)
        checkGradients([x, deep], "dilation (2, 1), padding (2, 0)") {
            $0[0].conv2d(weight: $0[1], padding: [2, 0], dilation: [2, 1])
        }
    }

    @Test func gradientsWithWinograd() {
        // 16 channels each side: the Winograd kernels (see `WinogradConvolution`).
        let x = gradInput([1, 16, 4, 5], seed: 23)
        let w = gradInput([16, 16, 3, 3], seed: 24)
        let b = gradInput([16], seed: 25)
        checkGradients([x, w, b], "padding 1") { $0[0].conv2d(weight: $0[1], bias: $0[2], padding: 1) }
        checkGradients([x, w], "no padding, odd output width") { $0[0].conv2d(weight: $0[1]) }
    }

    @Test func gradientsOfUnbatchedInputAndPartialNeeds() {
        let x = gradInput([3, 5, 4], seed: 12)
        let w = gradInput([2, 3, 3, 3], seed: 13)
        checkGradients([x, w], "unbatched") { $0[0].conv2d(weight: $0[1], padding: 1) }
        // Only the weight needs a gradient (a network's first layer); only the input does.
        let constant = Tensor.uniform([3, 5, 4], low: -1, high: 1, dtype: .float64)
        checkGradients([w], "weight only") { constant.conv2d(weight: $0[0], padding: 1) }
        let frozen = Tensor.uniform([2, 3, 3, 3], low: -1, high: 1, dtype: .float64)
        checkGradients([x], "input only") { $0[0].conv2d(weight: frozen, stride: 2) }
    }

    @Test func conv1dGradients() {
        let x = gradInput([2, 4, 9], seed: 14)
        let w = gradInput([6, 2, 3], seed: 15)
        let b = gradInput([6], seed: 16)
        checkGradients([x, w, b], "groups 2, stride 2, padding 1, dilation 2") {
            $0[0].conv1d(weight: $0[1], bias: $0[2], stride: 2, padding: 1, dilation: 2, groups: 2)
        }
        let w1 = gradInput([3, 4, 2], seed: 17)
        checkGradients([x, w1], "plain, no bias") { $0[0].conv1d(weight: $0[1]) }
        let single = gradInput([4, 9], seed: 18)
        checkGradients([single, w1], "unbatched") { $0[0].conv1d(weight: $0[1], padding: 1) }
    }

    // MARK: Memory and errors

    @Test func graphAndScratchMemoryAreFreed() async {
        await #expect(processExitsWith: .success) {
            let w = Tensor.randn([8, 4, 3, 3], requiresGrad: true)
            let b = Tensor.randn([8], requiresGrad: true)
            let x = Tensor.randn([6, 4, 10, 10])
            func step() {
                let y = x.conv2d(weight: w, bias: b, padding: 1).relu().maxPool2d(kernelSize: 2)
                y.avgPool2d(kernelSize: 2).adaptiveAvgPool2d(outputSize: 1).sum().backward()
                withNoGrad { w.addInPlace(w.grad!, alpha: -0.01); w.zeroGrad(); b.zeroGrad() }
            }
            step()
            let baseline = TensorMemory.liveStorageCount
            for _ in 0..<5 { step() }
            if TensorMemory.liveStorageCount != baseline { exit(1) }
        }
    }

    @Test func channelMismatchNamesTheShapes() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([8, 3, 28, 28]).conv2d(weight: Tensor.zeros([32, 1, 3, 3]))
        }
        let text = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(text.contains("conv2d: input [8, 3, 28, 28] has 3 channels, weight [32, 1, 3, 3] expects 1 (groups 1)"))
    }

    @Test func inputSmallerThanTheKernelIsRefused() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([1, 1, 2, 2]).conv2d(weight: Tensor.zeros([1, 1, 3, 3]))
        }
        let text = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(text.contains("conv2d: input [1, 1, 2, 2] with padding 0 is smaller than the kernel [3, 3]"))
    }
}
