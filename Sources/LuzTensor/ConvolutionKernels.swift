#if canImport(Accelerate)
import Accelerate
#else
import CBLAS
#endif
import Foundation

// The convolution kernels: im2col lowering onto GEMM, image by image.
//
// For one image and one group, the convolution is the matrix product
//     output (O_g × L) = weight (O_g × K) · columns (K × L)
// where L = outHeight·outWidth and K = (C/groups)·kH·kW: row (c, i, j) of `columns` holds the
// input pixel that kernel tap (i, j) of channel c sees at each output position (zero where the
// tap falls in the padding). The backward pass is two more products per image,
//     dWeight (O_g × K) += dOutput (O_g × L) · columnsᵀ
//     dColumns (K × L)   = weightᵀ · dOutput
// followed by col2im, which adds every entry of dColumns back to the pixel it was copied from.
//
// The column matrix of one image is at most a few MB (1.3 MB for a 64-channel 3×3 layer on
// 24×24), so it stays in the L2/L3 cache between the im2col pass and the GEMM that reads it;
// a whole-batch matrix would be hundreds of MB and would stream through memory twice. Each
// worker thread takes a contiguous run of images and calls a single-threaded GEMM on its own
// buffer: on these sizes (m = 32…64, n ≈ 600) that beats handing one GEMM at a time to BLAS's
// own threads, because the lowering passes run in parallel too and there is no fork/join per
// GEMM. BLAS is switched to one thread for the duration, so the two pools never fight.

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
        let threads = ConvolutionTuning.serialExperiment ? 1 : Swift.min(Parallelism.threadCount, batch)
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

    /// Writes the column matrix (`columnRows × outputPlane`) of `channelCount` input planes.
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
                            if ConvolutionExperiment.variant & 32 == 0 {
                                copyElements(run, line, inside)
                            } else if ConvolutionExperiment.variant & 64 != 0 {
                                memcpy(run, line, inside * MemoryLayout<T>.stride)
                            } else {
                                for x in 0..<inside { run[x] = line[x] }
                            }
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
                                if ConvolutionExperiment.variant & 32 == 0 {
                                    addElements(line, run, inside)
                                } else {
                                    for x in 0..<inside { line[x] += run[x] }
                                }
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

    /// Runs `body(images, worker)` over contiguous, non-empty runs of images, one per worker,
    /// with BLAS single-threaded while several workers run.
    func forEachImageRun(workers: Int, _ body: (Range<Int>, Int) -> Void) {
        if workers <= 1 {
            body(0..<batch, 0)
            return
        }
        BLASThreads.withSingleThread {
            parallelForEach(workers) { worker in
                body(worker * batch / workers ..< (worker + 1) * batch / workers, worker)
            }
        }
    }

    /// The forward pass: `output` (`[N, O, OH, OW]`) from `input` (`[N, C, H, W]`), `weight`
    /// (`[O, C/groups, kH, kW]`) and an optional `bias` (`[O]`).
    func forward<T: GemmScalar>(input: UnsafePointer<T>, weight: UnsafePointer<T>, bias: UnsafePointer<T>?,
                                output: UnsafeMutablePointer<T>) {
        let workers = workerCount
        let k = columnRows, l = outputPlane, og = groupOutChannels, cg = groupChannels
        let pointwise = isPointwise
        let columnCount = pointwise ? 0 : k * l
        // One column buffer per worker, from the tensor allocator's cache (no churn per step).
        let scratch = Tensor.empty([Swift.max(workers * columnCount, 1)], dtype: T.dtype)
        let scratchBase = scratch.pointer(T.self)
        forEachImageRun(workers: workers) { images, worker in
            let columns = scratchBase + worker * columnCount
            for n in images {
                for g in 0..<groups {
                    let source = input + (n * channels + g * cg) * inputPlane
                    let b: UnsafePointer<T>
                    if pointwise {
                        b = source
                    } else {
                        if !ConvolutionTuning.skipExperiment { im2col(source, into: columns) }
                        b = UnsafePointer(columns)
                    }
                    let c = output + (n * outChannels + g * og) * l
                    // The bias is written first and the GEMM adds onto it (beta 1): one pass
                    // over the output instead of a second sweep afterwards.
                    var beta: T = 0
                    if let bias {
                        for o in 0..<og {
                            let value = bias[g * og + o], dst = c + o * l
                            for x in 0..<l { dst[x] = value }
                        }
                        beta = 1
                    }
                    T.gemm(transposeA: false, transposeB: false, m: og, n: l, k: k,
                           alpha: 1, a: weight + g * og * k, lda: k, b: b, ldb: l,
                           beta: beta, c: c, ldc: l)
                }
            }
        }
        withExtendedLifetime(scratch) {}
    }

    /// The backward pass: gradients of the input, weight and bias (each only when its pointer
    /// is given) from the gradient of the output. `gradInput`, `gradWeight` and `gradBias` are
    /// overwritten.
    func backward<T: GemmScalar>(input: UnsafePointer<T>, weight: UnsafePointer<T>, gradOutput: UnsafePointer<T>,
                                 gradInput: UnsafeMutablePointer<T>?, gradWeight: UnsafeMutablePointer<T>?,
                                 gradBias: UnsafeMutablePointer<T>?) {
        let workers = workerCount
        let k = columnRows, l = outputPlane, og = groupOutChannels, cg = groupChannels
        let pointwise = isPointwise
        let needsColumns = !pointwise && (gradWeight != nil || gradInput != nil)
        let columnCount = needsColumns ? k * l : 0
        let wCount = weightCount
        // Workers after the first accumulate their weight and bias gradients privately; the
        // partial sums are added up at the end (a few KB each, against MBs of columns).
        let partialWeight = gradWeight != nil ? (workers - 1) * wCount : 0
        let partialBias = gradBias != nil ? (workers - 1) * outChannels : 0
        let scratch = Tensor.empty([Swift.max(workers * columnCount + partialWeight + partialBias, 1)],
                                   dtype: T.dtype)
        let scratchBase = scratch.pointer(T.self)
        let weightPartials = scratchBase + workers * columnCount
        let biasPartials = weightPartials + partialWeight
        forEachImageRun(workers: workers) { images, worker in
            let columns = scratchBase + worker * columnCount
            let gw = gradWeight.map { worker == 0 ? $0 : weightPartials + (worker - 1) * wCount }
            let gb = gradBias.map { worker == 0 ? $0 : biasPartials + (worker - 1) * outChannels }
            var first = true
            for n in images {
                for g in 0..<groups {
                    let source = input + (n * channels + g * cg) * inputPlane
                    let gout = gradOutput + (n * outChannels + g * og) * l
                    let groupWeight = weight + g * og * k
                    if let gw {
                        let b: UnsafePointer<T>
                        if pointwise {
                            b = source
                        } else {
                            if ConvolutionExperiment.variant & 1 == 0 { im2col(source, into: columns) }
                            b = UnsafePointer(columns)
                        }
                        if ConvolutionExperiment.variant & 4 == 0 {
                        T.gemm(transposeA: false, transposeB: true, m: og, n: k, k: l,
                               alpha: 1, a: gout, lda: l, b: b, ldb: l,
                               beta: first ? 0 : 1, c: gw + g * og * k, ldc: k)
                        }
                    }
                    if let gradInput {
                        let dst = gradInput + (n * channels + g * cg) * inputPlane
                        if pointwise {
                            T.gemm(transposeA: true, transposeB: false, m: k, n: l, k: og,
                                   alpha: 1, a: groupWeight, lda: k, b: gout, ldb: l,
                                   beta: 0, c: dst, ldc: l)
                        } else {
                            // The column buffer is free again once the weight gradient has read it.
                            if ConvolutionExperiment.variant & 8 == 0 {
                            T.gemm(transposeA: true, transposeB: false, m: k, n: l, k: og,
                                   alpha: 1, a: groupWeight, lda: k, b: gout, ldb: l,
                                   beta: 0, c: columns, ldc: l)
                            }
                            dst.update(repeating: 0, count: cg * inputPlane)
                            if ConvolutionExperiment.variant & 2 == 0 { col2im(columns, into: dst) }
                        }
                    }
                }
                if let gb {
                    let gout = gradOutput + n * outChannels * l
                    for o in 0..<outChannels {
                        let src = gout + o * l
                        var sum: T = 0
                        for x in 0..<l { sum += src[x] }
                        gb[o] = first ? sum : gb[o] + sum
                    }
                }
                first = false
            }
        }
        if workers > 1 {
            if let gradWeight {
                for w in 1..<workers {
                    let partial = weightPartials + (w - 1) * wCount
                    for i in 0..<wCount { gradWeight[i] += partial[i] }
                }
            }
            if let gradBias {
                for w in 1..<workers {
                    let partial = biasPartials + (w - 1) * outChannels
                    for i in 0..<outChannels { gradBias[i] += partial[i] }
                }
            }
        }
        withExtendedLifetime(scratch) {}
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

/// Copies `count` elements between non-overlapping buffers in 32-byte blocks, the last block
/// overlapping the previous one instead of finishing element by element. Rows of a column
/// matrix are short (20–30 elements), so the loop tail of a plain copy would cost as much as the
/// body; a `memcpy` call per row costs more than the copy.
@inline(__always)
func copyElements<T>(_ destination: UnsafeMutablePointer<T>, _ source: UnsafePointer<T>, _ count: Int) {
    let bytes = count &* MemoryLayout<T>.stride
    let to = UnsafeMutableRawPointer(destination), from = UnsafeRawPointer(source)
    if bytes >= 32 {
        var offset = 0
        while offset &+ 32 < bytes {
            to.storeBytes(of: from.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self),
                          toByteOffset: offset, as: SIMD8<Float>.self)
            offset &+= 32
        }
        let last = bytes &- 32
        to.storeBytes(of: from.loadUnaligned(fromByteOffset: last, as: SIMD8<Float>.self),
                      toByteOffset: last, as: SIMD8<Float>.self)
    } else {
        for i in 0..<count { destination[i] = source[i] }
    }
}

/// Adds `count` elements of `source` into `destination`, four floats (or two doubles) at a time.
@inline(__always)
func addElements<T: TensorFloat>(_ destination: UnsafeMutablePointer<T>, _ source: UnsafePointer<T>, _ count: Int) {
    var i = 0
    if T.self == Float.self {
        let to = UnsafeMutableRawPointer(destination), from = UnsafeRawPointer(source)
        while i &+ 8 <= count {
            let offset = i &* 4
            let sum = to.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
                + from.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
            to.storeBytes(of: sum, toByteOffset: offset, as: SIMD8<Float>.self)
            i &+= 8
        }
    } else if T.self == Double.self {
        let to = UnsafeMutableRawPointer(destination), from = UnsafeRawPointer(source)
        while i &+ 4 <= count {
            let offset = i &* 8
            let sum = to.loadUnaligned(fromByteOffset: offset, as: SIMD4<Double>.self)
                + from.loadUnaligned(fromByteOffset: offset, as: SIMD4<Double>.self)
            to.storeBytes(of: sum, toByteOffset: offset, as: SIMD4<Double>.self)
            i &+= 4
        }
    }
    while i < count {
        destination[i] += source[i]
        i &+= 1
    }
}

/// Knobs of the convolution kernels.
enum ConvolutionTuning {
    /// Below this many forward FLOPs a convolution runs on the calling thread (with BLAS free to
    /// use its own threads): splitting a few hundred kFLOP across cores costs more than it saves.
    nonisolated(unsafe) static var minimumParallelFlops = 1 << 18
    static var skipExperiment: Bool { ConvolutionExperiment.skipLowering }
    static var serialExperiment: Bool { ConvolutionExperiment.serial }
}

/// Restricts the BLAS library to one thread while Luz runs its own threads over it.
///
/// OpenBLAS runs every large GEMM on its own thread pool; two Luz workers each calling a
/// multithreaded GEMM would put four busy threads on two cores. The setting is process-wide,
/// so nested and concurrent scopes are counted and the original value restored by the last.
enum BLASThreads {
    private static let lock = Mutex()
    nonisolated(unsafe) private static var depth = 0
    nonisolated(unsafe) private static var saved: Int32 = 0

    static func withSingleThread<R>(_ body: () -> R) -> R {
        #if canImport(Accelerate)
        return body()
        #else
        lock.withLock {
            if depth == 0 {
                saved = openblas_get_num_threads()
                if saved > 1 { openblas_set_num_threads(1) }
            }
            depth += 1
        }
        defer {
            lock.withLock {
                depth -= 1
                if depth == 0 && saved > 1 { openblas_set_num_threads(saved) }
            }
        }
        return body()
        #endif
    }
}

// EXPERIMENT: remove before handing over.
public enum ConvolutionExperiment {
    nonisolated(unsafe) public static var skipLowering = false
    nonisolated(unsafe) public static var serial = false
    nonisolated(unsafe) public static var variant = 0
}
