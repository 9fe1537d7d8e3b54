// Depthwise convolution (MobileNet's: every output channel reads one input channel,
// `groups == channels`), computed directly on the planes.
//
// Lowered onto GEMM, each image and channel of a depthwise layer is a product of one row of
// kH·kW weights with a kH·kW × L matrix: a GEMM of height 1, far from any GEMM's peak, after an
// im2col that writes kH·kW copies of the plane. Here each output row is instead the sum of
// kH·kW shifted input rows scaled by one weight each: with stride 1 every term is a contiguous
// multiply-add over the row, and nothing is lowered or kept between the passes.

/// The direct kernels of a depthwise convolution: channel multiplier `m = O / C`, output
/// channel `o` reading input channel `o / m`.
struct DepthwiseConvolution {
    let geometry: ConvGeometry

    /// Whether `geometry` is depthwise: one input channel per group, more than one group.
    static func applies(to geometry: ConvGeometry) -> Bool {
        geometry.groups > 1 && geometry.groupChannels == 1 && geometry.outHeight > 0 && geometry.outWidth > 0
    }

    /// For each kernel column `j`, the input column offset of output column 0 and the output
    /// columns `lo..<hi` that read inside the row.
    private var columnRanges: [(offset: Int, lo: Int, hi: Int)] {
        (0..<geometry.kernelWidth).map { geometry.validColumns(kernelColumn: $0) }
    }

    /// The output columns where every kernel column reads inside the row, from `columns`.
    private static func interior(_ columns: [(offset: Int, lo: Int, hi: Int)]) -> Range<Int> {
        let lo = columns.map(\.lo).max() ?? 0, hi = columns.map(\.hi).min() ?? 0
        return lo..<Swift.max(lo, hi)
    }

    /// Whether the strided three-tap rows take the fused loops: a kernel three wide with a
    /// column stride above 1, whose per-tap loops would gather one element at a time three
    /// times over (the stride-1 per-tap loops are contiguous and vectorize instead).
    private var fusesThreeTaps: Bool { geometry.kernelWidth == 3 && geometry.strideWidth > 1 }

    /// The input row kernel row `i` reads for output row `oy`, or `nil` in the padding.
    @inline(__always)
    private func inputRow(_ oy: Int, _ i: Int) -> Int? {
        let g = geometry
        let iy = oy * g.strideHeight - g.paddingHeight + i * g.dilationHeight
        return iy >= 0 && iy < g.height ? iy : nil
    }

    /// Calls `body(oy, i, iy)` for every output row `oy` and kernel row `i` whose input row
    /// `iy` lies inside the plane: the row walk all three passes share.
    @inline(__always)
    private func forEachKernelRow(_ body: (_ outputRow: Int, _ kernelRow: Int, _ inputRow: Int) -> Void) {
        for oy in 0..<geometry.outHeight {
            for i in 0..<geometry.kernelHeight {
                if let iy = inputRow(oy, i) { body(oy, i, iy) }
            }
        }
    }

    private var workers: Int {
        let g = geometry
        let work = g.batch * g.outChannels * g.outputPlane * g.kernelHeight * g.kernelWidth * 2
        return work < ConvolutionTuning.minimumParallelFlops ? 1 : Swift.max(Parallelism.threadCount, 1)
    }

    /// `output` (`[N, O, OH, OW]`) from `input` (`[N, C, H, W]`), `weight` (`[O, 1, kH, kW]`) and
    /// an optional `bias`.
    func forward<T: TensorFloat>(input: UnsafePointer<T>, weight: UnsafePointer<T>, bias: UnsafePointer<T>?,
                                 output: UnsafeMutablePointer<T>) {
        let g = geometry, columns = columnRanges
        let multiplier = g.groupOutChannels, taps = g.kernelHeight * g.kernelWidth
        let ow = g.outWidth, sw = g.strideWidth
        let fused = fusesThreeTaps, inner = Self.interior(columns), first = columns[0].offset, dw = g.dilationWidth
        let edges = Array(0..<inner.lowerBound) + Array(inner.upperBound..<ow)
        forEachTask(g.batch * g.outChannels, workers: workers) { task, _ in
            let o = task % g.outChannels, n = task / g.outChannels
            let source = input + (n * g.channels + o / multiplier) * g.inputPlane
            let plane = output + task * g.outputPlane
            let w = weight + o * taps
            let start = bias?[o] ?? 0
            for x in 0..<g.outputPlane { plane[x] = start }
            forEachKernelRow { oy, i, iy in
                let row = plane + oy * ow, sourceRow = source + iy * g.width
                if fused {
                    // The three taps of the row in one pass; the edge columns tap by tap.
                    let w0 = w[i * 3], w1 = w[i * 3 + 1], w2 = w[i * 3 + 2]
                    for x in inner {
                        let b = sourceRow + x * sw + first
                        row[x] += w0 * b[0] + w1 * b[dw] + w2 * b[2 * dw]
                    }
                    for x in edges {
                        for (j, range) in columns.enumerated() where range.lo <= x && x < range.hi {
                            row[x] += w[i * 3 + j] * sourceRow[x * sw + range.offset]
                        }
                    }
                    return
                }
                for (j, range) in columns.enumerated() {
                    let tap = w[i * g.kernelWidth + j]
                    if sw == 1 {
                        let s = sourceRow + range.offset
                        for x in range.lo..<range.hi { row[x] += tap * s[x] }
                    } else {
                        for x in range.lo..<range.hi { row[x] += tap * sourceRow[x * sw + range.offset] }
                    }
                }
            }
        }
    }

    /// The gradients of the input, weight and bias (each only when its pointer is given) from
    /// the gradient of the output; all three are overwritten. Each input plane's gradient is
    /// summed by one task, and each channel's weight and bias gradients by one task over the
    /// whole batch in image order, so the result does not depend on the number of threads.
    func backward<T: TensorFloat>(input: UnsafePointer<T>, weight: UnsafePointer<T>, gradOutput: UnsafePointer<T>,
                                  gradInput: UnsafeMutablePointer<T>?, gradWeight: UnsafeMutablePointer<T>?,
                                  gradBias: UnsafeMutablePointer<T>?) {
        let g = geometry, columns = columnRanges
        let multiplier = g.groupOutChannels, taps = g.kernelHeight * g.kernelWidth
        let ow = g.outWidth, sw = g.strideWidth
        let fused = fusesThreeTaps, inner = Self.interior(columns), first = columns[0].offset, dw = g.dilationWidth
        let edges = Array(0..<inner.lowerBound) + Array(inner.upperBound..<ow)
        if let gradInput {
            forEachTask(g.batch * g.channels, workers: workers) { task, _ in
                let c = task % g.channels, n = task / g.channels
                let plane = gradInput + task * g.inputPlane
                for x in 0..<g.inputPlane { plane[x] = 0 }
                for o in c * multiplier..<(c + 1) * multiplier {
                    let gradPlane = gradOutput + (n * g.outChannels + o) * g.outputPlane
                    let w = weight + o * taps
                    forEachKernelRow { oy, i, iy in
                        let gradRow = gradPlane + oy * ow, row = plane + iy * g.width
                        if fused {
                            let w0 = w[i * 3], w1 = w[i * 3 + 1], w2 = w[i * 3 + 2]
                            for x in inner {
                                let b = row + x * sw + first, gx = gradRow[x]
                                b[0] += w0 * gx
                                b[dw] += w1 * gx
                                b[2 * dw] += w2 * gx
                            }
                            for x in edges {
                                for (j, range) in columns.enumerated() where range.lo <= x && x < range.hi {
                                    row[x * sw + range.offset] += w[i * 3 + j] * gradRow[x]
                                }
                            }
                            return
                        }
                        for (j, range) in columns.enumerated() {
                            let tap = w[i * g.kernelWidth + j]
                            if sw == 1 {
                                let d = row + range.offset
                                for x in range.lo..<range.hi { d[x] += tap * gradRow[x] }
                            } else {
                                for x in range.lo..<range.hi { row[x * sw + range.offset] += tap * gradRow[x] }
                            }
                        }
                    }
                }
            }
        }
        guard gradWeight != nil || gradBias != nil else { return }
        // Per worker, per tap, the products summed over the output rows of one image, element by
        // element across the row (a multiply-add the compiler vectorizes, where one running sum
        // per tap would be a serial chain), then the channel's totals: from the tensor
        // allocator's cache, so a step allocates nothing new.
        let workers = self.workers, scratchCount = taps * ow + taps
        let scratch = Tensor.empty([workers * scratchCount], dtype: T.dtype)
        let scratchBase = scratch.pointer(T.self)
        forEachTask(g.outChannels, workers: workers) { o, worker in
            let c = o / multiplier
            var biasSum: T = 0
            let tapRows = scratchBase + worker * scratchCount, totals = tapRows + taps * ow
            totals.initialize(repeating: 0, count: taps)
            for n in 0..<g.batch {
                let gradPlane = gradOutput + (n * g.outChannels + o) * g.outputPlane
                if gradBias != nil {
                    var s: T = 0
                    for x in 0..<g.outputPlane { s += gradPlane[x] }
                    biasSum += s
                }
                guard gradWeight != nil else { continue }
                let source = input + (n * g.channels + c) * g.inputPlane
                tapRows.initialize(repeating: 0, count: taps * ow)
                forEachKernelRow { oy, i, iy in
                    let gradRow = gradPlane + oy * ow, sourceRow = source + iy * g.width
                    if fused {
                        let s0 = tapRows + i * 3 * ow, s1 = s0 + ow, s2 = s1 + ow
                        for x in inner {
                            let b = sourceRow + x * sw + first, gx = gradRow[x]
                            s0[x] += gx * b[0]
                            s1[x] += gx * b[dw]
                            s2[x] += gx * b[2 * dw]
                        }
                        for x in edges {
                            for (j, range) in columns.enumerated() where range.lo <= x && x < range.hi {
                                tapRows[(i * 3 + j) * ow + x] += gradRow[x] * sourceRow[x * sw + range.offset]
                            }
                        }
                        return
                    }
                    for (j, range) in columns.enumerated() {
                        let sums = tapRows + (i * g.kernelWidth + j) * ow
                        if sw == 1 {
                            let x0 = sourceRow + range.offset
                            for x in range.lo..<range.hi { sums[x] += gradRow[x] * x0[x] }
                        } else {
                            for x in range.lo..<range.hi { sums[x] += gradRow[x] * sourceRow[x * sw + range.offset] }
                        }
                    }
                }
                for k in 0..<taps {
                    var s: T = 0
                    let sums = tapRows + k * ow
                    for x in 0..<ow { s += sums[x] }
                    totals[k] += s
                }
            }
            if let gradWeight { for k in 0..<taps { gradWeight[o * taps + k] = totals[k] } }
            gradBias?[o] = biasSum
        }
        withExtendedLifetime(scratch) {}
    }
}
