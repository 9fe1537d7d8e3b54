// The convolution kernels: lowering onto GEMM, one image at a time. (A 3×3 stride-1
// convolution with 16 or more channels on both sides runs on `WinogradConvolution` instead,
// which does 2.25 times fewer multiply-adds.)
//
// For one image and one group, the convolution is the matrix product
//     output (O_g × L) = weight (O_g × K) · columns (K × L)
// where L = outHeight·outWidth and K = (C/groups)·kH·kW: row (c, i, j) of `columns` holds the
// input pixel that kernel tap (i, j) of channel c sees at each output position (zero where the
// tap falls in the padding). The backward pass is two more products per image,
//     dWeight (O_g × K) += dOutput (O_g × L) · columnsᵀ
//     dColumns (K × L)   = weightᵀ · dOutput
// followed by col2im, which adds every entry of dColumns back to the pixel it was copied from.
// With stride 1 along the height, a lowering three times smaller does the same work (see
// `ConvGeometry.Lowering.rows`); a 1×1 convolution needs none.
//
// The lowered matrix of one image is a few hundred KB (480 KB for a 64-channel 3×3 layer on
// 24×24), so it stays in the core's L2 cache between the pass that writes it and the GEMMs
// that read it; a whole-batch matrix would be hundreds of MB and would stream through memory
// twice. Each worker thread (one per core) takes the next image and calls single-threaded
// GEMMs on its own buffer: on these sizes (m = 32…64, n ≈ 600) that beats handing one GEMM at a
// time to BLAS's threads by about 1.6×, because the lowering passes run in parallel too and
// there is no fork/join per GEMM. BLAS is switched to one thread meanwhile, so the two thread
// pools never fight over the cores.

/// The sizes of one 2-D convolution (a 1-D convolution is the case `height == 1`).
struct ConvGeometry {
    var batch: Int
    var channels: Int
    var height: Int
    var width: Int
    var outChannels: Int
    var groups: Int
    var kernelHeight: Int
    var kernelWidth: Int
    var strideHeight: Int
    var strideWidth: Int
    var paddingHeight: Int
    var paddingWidth: Int
    var dilationHeight: Int
    var dilationWidth: Int

    /// The output height, `⌊(H + 2p − d(k − 1) − 1) / s⌋ + 1` (may be ≤ 0 for invalid sizes).
    var outHeight: Int {
        outputSize(height, kernel: kernelHeight, stride: strideHeight, padding: paddingHeight, dilation: dilationHeight)
    }
    /// The output width, as ``outHeight``.
    var outWidth: Int {
        outputSize(width, kernel: kernelWidth, stride: strideWidth, padding: paddingWidth, dilation: dilationWidth)
    }

    var groupChannels: Int { channels / groups }
    var groupOutChannels: Int { outChannels / groups }
    var inputPlane: Int { height * width }
    var outputPlane: Int { outHeight * outWidth }
    /// K, the rows of one group's column matrix.
    var columnRows: Int { groupChannels * kernelHeight * kernelWidth }
    var weightCount: Int { outChannels * columnRows }

    /// A 1×1 kernel with stride 1 and no padding reads the input planes as they are: the input
    /// of one group *is* its column matrix, so im2col and col2im are skipped.
    var isPointwise: Bool {
        kernelHeight == 1 && kernelWidth == 1 && strideHeight == 1 && strideWidth == 1
            && paddingHeight == 0 && paddingWidth == 0
    }

    /// Floating-point operations of the forward pass (a multiply-add counts two).
    var forwardFlops: Int { 2 * batch * outChannels * columnRows * outputPlane }

    /// How many threads share the images: one per core, but never more than there are images,
    /// and one for work too small to repay a dispatch.
    var workerCount: Int {
        let threads = Swift.min(Parallelism.threadCount, batch)
        return forwardFlops < ConvolutionTuning.minimumParallelFlops ? 1 : Swift.max(threads, 1)
    }

    /// The valid output columns `lo..<hi` of kernel column `j`: those whose input column
    /// `ow·sW + j·dW − pW` lies inside `0..<width`. The others read padding.
    @inline(__always)
    func validColumns(kernelColumn j: Int) -> (offset: Int, lo: Int, hi: Int) {
        let offset = j * dilationWidth - paddingWidth
        let ow = outWidth, sw = strideWidth
        var lo = offset >= 0 ? 0 : (-offset + sw - 1) / sw
        let room = width - offset
        var hi = room <= 0 ? 0 : (room + sw - 1) / sw
        lo = Swift.min(lo, ow)
        hi = Swift.max(Swift.min(hi, ow), lo)
        return (offset, lo, hi)
    }

    /// Writes the column matrix (`columnRows × outputPlane`) of one group's input planes
    /// (`groupChannels` planes of `height × width` from `source`).
    @inline(__always)
    func im2col<T: TensorFloat>(_ source: UnsafePointer<T>, into columns: UnsafeMutablePointer<T>) {
        let oh = outHeight, ow = outWidth, plane = inputPlane, l = outputPlane
        let sh = strideHeight, sw = strideWidth
        var row = columns
        for c in 0..<groupChannels {
            let src = source + c * plane
            for i in 0..<kernelHeight {
                let rowShift = i * dilationHeight - paddingHeight
                for j in 0..<kernelWidth {
                    let (offset, lo, hi) = validColumns(kernelColumn: j)
                    let inside = hi - lo, after = ow - hi
                    for y in 0..<oh {
                        let dst = row + y * ow
                        let ih = y * sh + rowShift
                        if ih < 0 || ih >= height {
                            for x in 0..<ow { dst[x] = 0 }
                            continue
                        }
                        // Index arithmetic stays out of the element loops (no overflow checks
                        // there), so they compile to vector copies.
                        for x in 0..<lo { dst[x] = 0 }
                        let line = src + (ih * width + offset + lo * sw), run = dst + lo
                        if sw == 1 {
                            copyElements(run, line, inside)
                        } else if sw == 2 {
                            gatherEveryOther(run, line, inside)
                        } else {
                            var from = line
                            for x in 0..<inside { run[x] = from.pointee; from += sw }
                        }
                        let tail = dst + hi
                        for x in 0..<after { tail[x] = 0 }
                    }
                    row += l
                }
            }
        }
    }

    /// Adds every entry of a column matrix back into the input planes it was gathered from
    /// (the adjoint of ``im2col(_:into:)``). `destination` must hold the planes to add to.
    @inline(__always)
    func col2im<T: TensorFloat>(_ columns: UnsafePointer<T>, into destination: UnsafeMutablePointer<T>) {
        let oh = outHeight, ow = outWidth, plane = inputPlane, l = outputPlane
        let sh = strideHeight, sw = strideWidth
        var row = columns
        for c in 0..<groupChannels {
            let dst = destination + c * plane
            for i in 0..<kernelHeight {
                let rowShift = i * dilationHeight - paddingHeight
                for j in 0..<kernelWidth {
                    let (offset, lo, hi) = validColumns(kernelColumn: j)
                    let inside = hi - lo
                    if inside > 0 {
                        for y in 0..<oh {
                            let ih = y * sh + rowShift
                            if ih < 0 || ih >= height { continue }
                            let run = row + (y * ow + lo)
                            let line = dst + (ih * width + offset + lo * sw)
                            if sw == 1 {
                                addElements(line, run, inside)
                            } else if sw == 2 {
                                addEveryOther(line, run, inside)
                            } else {
                                var to = line
                                for x in 0..<inside { to.pointee += run[x]; to += sw }
                            }
                        }
                    }
                    row += l
                }
            }
        }
    }

    /// Runs `body(image, chunk, worker, first)` for every image, the batch cut into `chunks`
    /// runs of consecutive images that workers take in turn; `first` is whether the image
    /// starts its chunk. Every chunk is non-empty. BLAS is single-threaded while several
    /// workers run.
    func forEachChunk(_ chunks: Int, workers: Int, _ body: (Int, Int, Int, Bool) -> Void) {
        forEachTask(chunks, workers: workers) { chunk, worker in
            let start = chunk * batch / chunks, end = (chunk + 1) * batch / chunks
            for n in start..<end { body(n, chunk, worker, n == start) }
        }
    }

    /// How the input of one image and group becomes the right-hand side of the GEMMs.
    enum Lowering {
        /// A 1×1 kernel with stride 1 and no padding: the input planes are the matrix.
        case none
        /// Full im2col: one `K × L` matrix, one GEMM.
        case full
        /// Stride 1 along the height: im2col of the kernel *columns* only, a matrix of
        /// `C/g · kW` rows over the padded height, `Hp · OW`. The rows seen by kernel row `i` are
        /// the same matrix shifted by `i · dH · OW` elements, so each kernel row is one GEMM on
        /// a view of it (leading dimension `Hp · OW`), accumulating into the output. The
        /// lowered matrix is about `kH` times smaller than im2col's, so building it and reading
        /// it back costs a third as much memory traffic for a 3×3 kernel.
        case rows
    }

    var lowering: Lowering {
        if isPointwise { return .none }
        // Too few rows per GEMM (a 1-channel first layer) and the GEMMs run far from peak.
        if strideHeight == 1 && kernelHeight > 1
            && groupChannels * kernelWidth >= ConvolutionTuning.minimumRowLoweringDepth {
            return .rows
        }
        return .full
    }

    /// The same convolution with the kernel cut to its first row: its im2col is the lowered
    /// matrix of ``Lowering/rows`` (`outHeight` is then the padded height).
    var rowGeometry: ConvGeometry {
        var g = self
        g.kernelHeight = 1
        g.dilationHeight = 1
        return g
    }

    /// The elements of one worker's lowered matrix.
    var loweredCount: Int {
        switch lowering {
        case .none: return 0
        case .full: return columnRows * outputPlane
        case .rows: return rowGeometry.columnRows * rowGeometry.outputPlane
        }
    }

    /// The weight reordered for ``Lowering/rows``: `[kH, O, C/g · kW]`, so that kernel row `i`
    /// of group `g` is a plain matrix (`O/g × C/g·kW`) at `(i · O + g · O/g) · C/g·kW`.
    func packRows<T: TensorFloat>(_ weight: UnsafePointer<T>, into packed: UnsafeMutablePointer<T>) {
        let cg = groupChannels, kh = kernelHeight, kw = kernelWidth, kr = cg * kw
        for o in 0..<outChannels {
            for c in 0..<cg {
                for i in 0..<kh {
                    let from = weight + ((o * cg + c) * kh + i) * kw
                    let to = packed + (i * outChannels + o) * kr + c * kw
                    for j in 0..<kw { to[j] = from[j] }
                }
            }
        }
    }

    /// The inverse of ``packRows(_:into:)``.
    func unpackRows<T: TensorFloat>(_ packed: UnsafePointer<T>, into weight: UnsafeMutablePointer<T>) {
        let cg = groupChannels, kh = kernelHeight, kw = kernelWidth, kr = cg * kw
        for o in 0..<outChannels {
            for c in 0..<cg {
                for i in 0..<kh {
                    let to = weight + ((o * cg + c) * kh + i) * kw
                    let from = packed + (i * outChannels + o) * kr + c * kw
                    for j in 0..<kw { to[j] = from[j] }
                }
            }
        }
    }

    /// The forward pass: `output` (`[N, O, OH, OW]`) from `input` (`[N, C, H, W]`), `weight`
    /// (`[O, C/groups, kH, kW]`) and an optional `bias` (`[O]`).
    ///
    /// With `saveLowered`, the lowered matrix of every image and group is kept there
    /// (``loweredCount`` elements each, image-major) for the backward pass's weight gradient,
    /// which then skips building it again.
    func forward<T: GemmScalar>(input: UnsafePointer<T>, weight: UnsafePointer<T>, bias: UnsafePointer<T>?,
                                output: UnsafeMutablePointer<T>, saveLowered: UnsafeMutablePointer<T>? = nil) {
        let workers = workerCount
        let k = columnRows, l = outputPlane, og = groupOutChannels, cg = groupChannels
        let lowering = self.lowering
        let rows = rowGeometry, kr = rows.columnRows, ldx = rows.outputPlane
        let rowStep = dilationHeight * outWidth
        let loweredCount = self.loweredCount
        let packedCount = lowering == .rows ? weightCount : 0
        // One lowered matrix per worker, from the tensor allocator's cache (no churn per step).
        let scratchLowered = saveLowered == nil ? loweredCount : 0
        let scratch = Tensor.empty([Swift.max(workers * scratchLowered + packedCount, 1)], dtype: T.dtype)
        let scratchBase = scratch.pointer(T.self)
        let packed = scratchBase + workers * scratchLowered
        if lowering == .rows { packRows(weight, into: packed) }
        let small = SmallPlaneLowering<T>(self, workers: workers)
        forEachTask(batch, workers: workers) { n, worker in
            for g in 0..<groups {
                let lowered = saveLowered.map { $0 + (n * groups + g) * loweredCount } ?? scratchBase + worker * loweredCount
                let source = input + (n * channels + g * cg) * inputPlane
                let c = output + (n * outChannels + g * og) * l
                // The bias is written first and the GEMMs add onto it (beta 1): one pass
                // over the output instead of a second sweep afterwards.
                var beta: T = 0
                if let bias {
                    for o in 0..<og {
                        let value = bias[g * og + o], dst = c + o * l
                        for x in 0..<l { dst[x] = value }
                    }
                    beta = 1
                }
                switch lowering {
                case .none:
                    T.gemm(transposeA: false, transposeB: false, m: og, n: l, k: k,
                           alpha: 1, a: weight + g * og * k, lda: k, b: source, ldb: l,
                           beta: beta, c: c, ldc: l)
                case .full:
                    if let small { small.im2col(source, into: lowered, worker: worker) } else { im2col(source, into: lowered) }
                    T.gemm(transposeA: false, transposeB: false, m: og, n: l, k: k,
                           alpha: 1, a: weight + g * og * k, lda: k, b: lowered, ldb: l,
                           beta: beta, c: c, ldc: l)
                case .rows:
                    rows.im2col(source, into: lowered)
                    for i in 0..<kernelHeight {
                        T.gemm(transposeA: false, transposeB: false, m: og, n: l, k: kr,
                               alpha: 1, a: packed + (i * outChannels + g * og) * kr, lda: kr,
                               b: lowered + i * rowStep, ldb: ldx,
                               beta: i == 0 ? beta : 1, c: c, ldc: l)
                    }
                }
            }
        }
        withExtendedLifetime(scratch) {}
    }

    /// The backward pass: gradients of the input, weight and bias (each only when its pointer
    /// is given) from the gradient of the output. `gradInput`, `gradWeight` and `gradBias` are
    /// overwritten.
    ///
    /// `savedLowered` holds the lowered matrices that ``forward(input:weight:bias:output:saveLowered:)``
    /// kept, or is `nil` to build them again.
    func backward<T: GemmScalar>(input: UnsafePointer<T>, weight: UnsafePointer<T>, gradOutput: UnsafePointer<T>,
                                 gradInput: UnsafeMutablePointer<T>?, gradWeight: UnsafeMutablePointer<T>?,
                                 gradBias: UnsafeMutablePointer<T>?, savedLowered: UnsafePointer<T>? = nil) {
        let workers = workerCount
        let k = columnRows, l = outputPlane, og = groupOutChannels, cg = groupChannels
        let lowering = self.lowering
        let rows = rowGeometry, kr = rows.columnRows, ldx = rows.outputPlane
        let rowStep = dilationHeight * outWidth
        let loweredCount = gradWeight != nil || gradInput != nil ? self.loweredCount : 0
        let wCount = weightCount
        // The batch is cut into a fixed number of chunks of consecutive images; each chunk
        // accumulates its weight and bias gradients privately (a few KB each, against MBs of
        // lowered matrices) and the chunks' sums are added in chunk order at the end. Which
        // worker ran which chunk does not matter, so the gradients are the same bit for bit on
        // every run, while workers still take chunks as they become free.
        let chunks = Swift.min(batch, ConvolutionTuning.gradientChunks)
        let packedWeight = lowering == .rows
        // With full im2col, the weight gradient's GEMM packs its transposed right-hand side:
        // the lowered input (`C/g·kH·kW × L`) as `gout · loweredᵀ`, or the output gradient
        // (`O/g × L`) as `lowered · goutᵀ`, which gives the gradient transposed. The smaller
        // one is packed.
        let transposedWeightGradient = lowering == .full && og < k
        let weightPartialCount = gradWeight == nil ? 0 : chunks * wCount
        let biasPartialCount = gradBias == nil ? 0 : chunks * outChannels
        let scratch = Tensor.empty(
            [Swift.max(workers * loweredCount + (packedWeight ? wCount : 0) + weightPartialCount + biasPartialCount, 1)],
            dtype: T.dtype)
        let scratchBase = scratch.pointer(T.self)
        let packed = scratchBase + workers * loweredCount
        let weightPartials = packed + (packedWeight ? wCount : 0)
        let biasPartials = weightPartials + weightPartialCount
        if packedWeight { packRows(weight, into: packed) }
        // The table is built only when a column matrix will be built or added back.
        let small = (gradWeight != nil && savedLowered == nil) || gradInput != nil
            ? SmallPlaneLowering<T>(self, workers: workers) : nil
        forEachChunk(chunks, workers: workers) { n, chunk, worker, first in
            let lowered = scratchBase + worker * loweredCount
            let gw = gradWeight.map { _ in weightPartials + chunk * wCount }
            let gb = gradBias.map { _ in biasPartials + chunk * outChannels }
            for g in 0..<groups {
                let source = input + (n * channels + g * cg) * inputPlane
                let gout = gradOutput + (n * outChannels + g * og) * l
                let dst = gradInput.map { $0 + (n * channels + g * cg) * inputPlane }
                let beta: T = first ? 0 : 1
                switch lowering {
                case .none:
                    if let gw {
                        T.gemm(transposeA: false, transposeB: true, m: og, n: k, k: l,
                               alpha: 1, a: gout, lda: l, b: source, ldb: l,
                               beta: beta, c: gw + g * og * k, ldc: k)
                    }
                    if let dst {
                        T.gemm(transposeA: true, transposeB: false, m: k, n: l, k: og,
                               alpha: 1, a: weight + g * og * k, lda: k, b: gout, ldb: l,
                               beta: 0, c: dst, ldc: l)
                    }
                case .full:
                    if let gw {
                        let columns: UnsafePointer<T>
                        if let savedLowered {
                            columns = savedLowered + (n * groups + g) * self.loweredCount
                        } else {
                            if let small { small.im2col(source, into: lowered, worker: worker) } else { im2col(source, into: lowered) }
                            columns = UnsafePointer(lowered)
                        }
                        if transposedWeightGradient {
                            T.gemm(transposeA: false, transposeB: true, m: k, n: og, k: l,
                                   alpha: 1, a: columns, lda: l, b: gout, ldb: l,
                                   beta: beta, c: gw + g * og * k, ldc: og)
                        } else {
                            T.gemm(transposeA: false, transposeB: true, m: og, n: k, k: l,
                                   alpha: 1, a: gout, lda: l, b: columns, ldb: l,
                                   beta: beta, c: gw + g * og * k, ldc: k)
                        }
                    }
                    if let dst {
                        // The buffer is free again once the weight gradient has read it.
                        T.gemm(transposeA: true, transposeB: false, m: k, n: l, k: og,
                               alpha: 1, a: weight + g * og * k, lda: k, b: gout, ldb: l,
                               beta: 0, c: lowered, ldc: l)
                        dst.update(repeating: 0, count: cg * inputPlane)
                        if let small { small.col2im(lowered, into: dst, worker: worker) } else { col2im(lowered, into: dst) }
                    }
                case .rows:
                    if let gw {
                        let columns: UnsafePointer<T>
                        if let savedLowered {
                            columns = savedLowered + (n * groups + g) * self.loweredCount
                        } else {
                            rows.im2col(source, into: lowered)
                            columns = UnsafePointer(lowered)
                        }
                        for i in 0..<kernelHeight {
                            T.gemm(transposeA: false, transposeB: true, m: og, n: kr, k: l,
                                   alpha: 1, a: gout, lda: l, b: columns + i * rowStep, ldb: ldx,
                                   beta: beta, c: gw + (i * outChannels + g * og) * kr, ldc: kr)
                        }
                    }
                    if let dst {
                        // Kernel row i adds into columns i·dH·OW ..< i·dH·OW + L of every
                        // row: the first product covers 0 ..< L, the rest must start at 0.
                        if ldx > l {
                            for r in 0..<kr { (lowered + r * ldx + l).update(repeating: 0, count: ldx - l) }
                        }
                        for i in 0..<kernelHeight {
                            T.gemm(transposeA: true, transposeB: false, m: kr, n: l, k: og,
                                   alpha: 1, a: packed + (i * outChannels + g * og) * kr, lda: kr,
                                   b: gout, ldb: l,
                                   beta: i == 0 ? 0 : 1, c: lowered + i * rowStep, ldc: ldx)
                        }
                        dst.update(repeating: 0, count: cg * inputPlane)
                        rows.col2im(lowered, into: dst)
                    }
                }
            }
            if let gb {
                addBiasGradient(gradOutput + n * outChannels * l, channels: outChannels, plane: l,
                                into: gb, accumulate: !first)
            }
        }
        if let gradWeight {
            let total = sumChunkPartials(weightPartials, chunks: chunks, count: wCount)
            if packedWeight {
                unpackRows(total, into: gradWeight)
            } else if transposedWeightGradient {
                // Each group's sums are `[C/g·kH·kW, O/g]`.
                for g in 0..<groups {
                    let from = total + g * og * k, to = gradWeight + g * og * k
                    for r in 0..<k {
                        for o in 0..<og { to[o * k + r] = from[r * og + o] }
                    }
                }
            } else {
                gradWeight.update(from: total, count: wCount)
            }
        }
        if let gradBias {
            gradBias.update(from: sumChunkPartials(biasPartials, chunks: chunks, count: outChannels), count: outChannels)
        }
        withExtendedLifetime(scratch) {}
    }
}

/// `destination[x] = source[2x]` for `x < count` (im2col's gather for stride 2), eight at a
/// time from sixteen-lane loads. A load never reaches past `source[2(count − 1)]`.
@inline(__always)
func gatherEveryOtherLanes<T: TensorFloat & SIMDScalar>(_ destination: UnsafeMutablePointer<T>, _ source: UnsafePointer<T>, _ count: Int) {
    var x = 0
    let from = UnsafeRawPointer(source), to = UnsafeMutableRawPointer(destination)
    let size = MemoryLayout<T>.stride
    while x &+ 8 < count {
        let lanes = from.loadUnaligned(fromByteOffset: 2 &* x &* size, as: SIMD16<T>.self)
        to.storeBytes(of: lanes.evenHalf, toByteOffset: x &* size, as: SIMD8<T>.self)
        x &+= 8
    }
    while x < count {
        destination[x] = source[2 &* x]
        x &+= 1
    }
}

/// `destination[2x] += source[x]` for `x < count` (col2im's scatter for stride 2), eight at a
/// time through sixteen-lane loads and stores whose odd lanes add zero. An access never
/// reaches past `destination[2(count − 1)]`.
@inline(__always)
func addEveryOtherLanes<T: TensorFloat & SIMDScalar>(_ destination: UnsafeMutablePointer<T>, _ source: UnsafePointer<T>, _ count: Int) {
    var x = 0
    let from = UnsafeRawPointer(source), to = UnsafeMutableRawPointer(destination)
    let size = MemoryLayout<T>.stride
    while x &+ 8 < count {
        var spread = SIMD16<T>(repeating: 0)
        spread.evenHalf = from.loadUnaligned(fromByteOffset: x &* size, as: SIMD8<T>.self)
        let sums = to.loadUnaligned(fromByteOffset: 2 &* x &* size, as: SIMD16<T>.self) + spread
        to.storeBytes(of: sums, toByteOffset: 2 &* x &* size, as: SIMD16<T>.self)
        x &+= 8
    }
    while x < count {
        destination[2 &* x] += source[x]
        x &+= 1
    }
}

/// `destination[x] = source[2x]` for `x < count`, in SIMD lanes for `Float` and `Double`.
@inline(__always)
func gatherEveryOther<T: TensorFloat>(_ destination: UnsafeMutablePointer<T>, _ source: UnsafePointer<T>, _ count: Int) {
    if T.self == Float.self {
        gatherEveryOtherLanes(UnsafeMutableRawPointer(destination).assumingMemoryBound(to: Float.self),
                              UnsafeRawPointer(source).assumingMemoryBound(to: Float.self), count)
    } else if T.self == Double.self {
        gatherEveryOtherLanes(UnsafeMutableRawPointer(destination).assumingMemoryBound(to: Double.self),
                              UnsafeRawPointer(source).assumingMemoryBound(to: Double.self), count)
    } else {
        for x in 0..<count { destination[x] = source[2 &* x] }
    }
}

/// `destination[2x] += source[x]` for `x < count`, in SIMD lanes for `Float` and `Double`.
@inline(__always)
func addEveryOther<T: TensorFloat>(_ destination: UnsafeMutablePointer<T>, _ source: UnsafePointer<T>, _ count: Int) {
    if T.self == Float.self {
        addEveryOtherLanes(UnsafeMutableRawPointer(destination).assumingMemoryBound(to: Float.self),
                           UnsafeRawPointer(source).assumingMemoryBound(to: Float.self), count)
    } else if T.self == Double.self {
        addEveryOtherLanes(UnsafeMutableRawPointer(destination).assumingMemoryBound(to: Double.self),
                           UnsafeRawPointer(source).assumingMemoryBound(to: Double.self), count)
    } else {
        for x in 0..<count { destination[2 &* x] += source[x] }
    }
}

/// Writes the sum of each of `channels` planes of `plane` elements of `gradOutput` into
/// `gradBias`, or adds it there when `accumulate` is set: one image's bias gradient.
func addBiasGradient<T: TensorFloat>(_ gradOutput: UnsafePointer<T>, channels: Int, plane: Int,
                                     into gradBias: UnsafeMutablePointer<T>, accumulate: Bool) {
    for channel in 0..<channels {
        let sum = sumElements(gradOutput + channel * plane, plane)
        gradBias[channel] = accumulate ? gradBias[channel] + sum : sum
    }
}

/// The number of positions a window of `kernel` taps (spaced `dilation` apart) takes along a
/// dimension of `size` padded by `padding` on both sides, moving by `stride`: torch's floor rule
/// `⌊(size + 2p − d(k − 1) − 1) / s⌋ + 1`, and 0 when even one window does not fit (Swift's
/// division truncates toward zero, which would round a negative span up to a window).
@inline(__always)
func outputSize(_ size: Int, kernel: Int, stride: Int, padding: Int, dilation: Int) -> Int {
    let span = size + 2 * padding - dilation * (kernel - 1) - 1
    return span < 0 || stride <= 0 ? 0 : span / stride + 1
}

/// Knobs of the convolution kernels.
enum ConvolutionTuning {
    /// Below this many forward FLOPs a convolution runs on the calling thread (with BLAS free to
    /// use its own threads): splitting a few hundred kFLOP across cores costs more than it saves.
    static let minimumParallelFlops = 1 << 18
    /// The smallest GEMM depth (`C/groups · kW`) for which ``ConvGeometry/Lowering/rows`` is
    /// used: a one-channel first layer (depth 3) runs faster as one GEMM of depth 9.
    static let minimumRowLoweringDepth = 16
    /// How many runs of images the backward pass cuts a batch into, each with its own weight
    /// and bias gradient sums: enough for the workers to balance their load, a fixed number so
    /// that the sums are added in the same order on every run.
    static let gradientChunks = 8
    /// Convolutions with full im2col whose output plane has at most this many positions lower
    /// through ``SmallPlaneLowering``'s table: on a 7 × 7 plane the row-by-row lowering spends
    /// more on each row's bookkeeping than on copying (`luz-bench autoenc-layers`: the forward
    /// pass of Conv2d(16, 32, 3, stride 2) on 14 × 14 images went from 600–710 µs to 320–370 µs).
    static let maximumTableLoweredPlane = 256
    /// The most bytes of lowered input a convolution keeps from its forward pass for the
    /// weight gradient (beyond it the backward pass builds them again): about three times the
    /// input for a 3×3 kernel, against a tenth of the step's time.
    nonisolated(unsafe) static var maximumSavedLoweredBytes = 512 << 20
    /// The fewest input and output channels for which a 3×3 stride-1 convolution runs on
    /// ``WinogradConvolution``. Its lead over the lowering shrinks with the channels (forward
    /// and backward of a batch of 128 on 32×32: 1.37× at 16 channels, 1.09× at 8, 1.09× at 4);
    /// below 16 the lowering keeps these small layers.
    static let minimumWinogradChannels = 16
    /// About how many tiles ``WinogradConvolution`` transforms and multiplies at a time: enough
    /// columns for fast products, few enough that a block's buffers stay in cache.
    static let winogradBlockTiles = 320
    /// The most bytes of transformed tiles one image may need in ``WinogradConvolution`` (each
    /// worker holds a block of at least one image). Larger images, where those buffers would
    /// no longer stay in cache, take the lowering: 64 MB is a 64-channel float32 layer on about
    /// 148×148 pixels.
    static let maximumWinogradImageBytes = 64 << 20
}
