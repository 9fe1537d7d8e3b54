#if !canImport(Accelerate)
import CLuzBLAS
#endif
import Dispatch
import Foundation

// The kernel-support layer of the tensor core: how kernels split their work over the cores,
// the SIMD lane helpers they compute with, and the dispatch from a dtype to the Swift type
// their generic code is specialized for. Convolution, Winograd, attention, the recurrent
// sequences and the elementwise loops all build on these.

// MARK: - Work splitting

/// Runs `body` over `0..<count` in contiguous chunks, on several threads when `count` is large.
///
/// `cost` scales the threshold for work that is heavier per element than a plain add.
@inline(__always)
func parallelChunks(_ count: Int, cost: Int = 1, _ body: (Range<Int>) -> Void) {
    let threads = Parallelism.threadCount
    if threads <= 1 || count * cost < Parallelism.minimumParallelElements || count < 2 {
        body(0..<count)
        return
    }
    let chunks = min(threads, count)
    let chunkSize = (count + chunks - 1) / chunks
    withoutActuallyEscaping(body) { body in
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            let start = chunk * chunkSize
            let end = min(count, start + chunkSize)
            if start < end { body(start..<end) }
        }
    }
}

/// Runs `body(i)` for every `i` in `0..<count`, spread over the threads (for coarse tasks).
func parallelForEach(_ count: Int, _ body: (Int) -> Void) {
    if count <= 1 || Parallelism.threadCount <= 1 {
        for i in 0..<count { body(i) }
        return
    }
    withoutActuallyEscaping(body) { body in
        DispatchQueue.concurrentPerform(iterations: count) { body($0) }
    }
}

/// Runs `body(task, worker)` for every task in `0..<count`, each of `workers` threads taking the
/// next free task (on a shared machine one core is often slowed by another process, and a fixed
/// split would leave the other waiting). BLAS is single-threaded while several workers run.
func forEachTask(_ count: Int, workers: Int, _ body: (Int, Int) -> Void) {
    if workers <= 1 {
        for task in 0..<count { body(task, 0) }
        return
    }
    let counter = ImageCounter()
    BLASThreads.withSingleThread {
        parallelForEach(workers) { worker in
            while let task = counter.next(below: count) { body(task, worker) }
        }
    }
}

/// Adds `chunks` consecutive runs of `count` partial sums into the first run, in chunk order
/// (so the result does not depend on which thread computed which chunk), and returns it.
func sumChunkPartials<T: TensorFloat>(_ partials: UnsafeMutablePointer<T>, chunks: Int,
                                      count: Int) -> UnsafeMutablePointer<T> {
    for chunk in 1..<Swift.max(chunks, 1) {
        addElements(partials, partials + chunk * count, count)
    }
    return partials
}

/// Runs `body` over ranges of `count` independent matrices, on all cores with single-threaded
/// BLAS when there is enough work (`work` multiply-adds per matrix).
func forEachMatrixRange(_ count: Int, work: Int, _ body: (Range<Int>) -> Void) {
    let workers = Swift.min(Parallelism.threadCount, count)
    // Below ~64k multiply-adds a thread hand-off costs more than it saves.
    if workers <= 1 || count * work < 1 << 16 {
        body(0..<count)
        return
    }
    BLASThreads.withSingleThread {
        parallelForEach(workers) { w in
            body(w * count / workers ..< (w + 1) * count / workers)
        }
    }
}

/// Hands out image indices to worker threads, one at a time.
final class ImageCounter: @unchecked Sendable {
    private let lock = Mutex()
    private var value = 0

    func next(below limit: Int) -> Int? {
        lock.withLock {
            guard value < limit else { return nil }
            value += 1
            return value - 1
        }
    }
}

/// Marks a region where Luz runs its own threads over BLAS calls.
///
/// Luz drives the cores itself: the BLAS library always runs on one thread (the loader sets it
/// so), and ``BLAS`` splits a large product across Luz's threads. Inside
/// a region opened here the kernels are already spread over the cores, so each product stays on
/// its calling thread. Regions nest and may be opened concurrently; they are counted.
enum BLASThreads {
    private static let lock = Mutex()
    nonisolated(unsafe) private static var depth = 0

    static func withSingleThread<R>(_ body: () -> R) -> R {
        lock.withLock { depth += 1 }
        defer { lock.withLock { depth -= 1 } }
        return body()
    }

    /// Whether some thread is inside ``withSingleThread(_:)``.
    static var inParallelRegion: Bool { lock.withLock { depth > 0 } }
}

// MARK: - Lanes

/// Loads a vector of `T`'s lanes from `pointer` (any alignment).
@inline(__always)
func loadLanes<T: GemmScalar>(_ pointer: UnsafePointer<T>) -> T.Lanes {
    UnsafeRawPointer(pointer).loadUnaligned(as: T.Lanes.self)
}

@inline(__always)
func loadLanes<T: GemmScalar>(_ pointer: UnsafeMutablePointer<T>) -> T.Lanes {
    UnsafeRawPointer(pointer).loadUnaligned(as: T.Lanes.self)
}

/// Stores a vector of `T`'s lanes at `pointer` (any alignment).
@inline(__always)
func storeLanes<T: GemmScalar>(_ value: T.Lanes, _ pointer: UnsafeMutablePointer<T>) {
    UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: T.Lanes.self)
}

/// e^x lane by lane, within 2 ulp for x ≤ 88; inputs below −80 give exactly 0 (e^−80 ≈ 2e−35
/// is nothing next to the row maximum's 1, and a hidden score of −∞ must weigh exactly 0).
///
/// x = n·ln 2 + r with n = round(x / ln 2) and |r| ≤ ln 2 / 2; e^r by its Taylor polynomial of
/// degree 7 (truncation error below 5e−9), and 2ⁿ added to the exponent bits.
@inline(__always)
func vectorExp(_ x: SIMD8<Float>) -> SIMD8<Float> {
    // Comparisons and selects, not `clamped`: the standard library's generic lane-wise min
    // and max are not inlined.
    var clamped = x.replacing(with: -80, where: x .< -80)
    clamped.replace(with: 88, where: clamped .> 88)
    // Adding 1.5·2²³ rounds to an integer held in the low mantissa bits.
    let shifter = SIMD8<Float>(repeating: 12_582_912)
    let shifted = clamped * 1.442_695_040_888_963_4 + shifter
    let n = shifted - shifter
    // ln 2 split in two so that n·ln2High is exact.
    let r = clamped - n * 0.693_145_751_953_125 - n * 1.428_606_765_330_187e-6
    var p = SIMD8<Float>(repeating: 1.0 / 5040)
    p = p * r + 1.0 / 720
    p = p * r + 1.0 / 120
    p = p * r + 1.0 / 24
    p = p * r + 1.0 / 6
    p = p * r + 0.5
    p = p * r + 1
    p = p * r + 1
    let exponent = unsafeBitCast(shifted, to: SIMD8<UInt32>.self) &- unsafeBitCast(shifter, to: SIMD8<UInt32>.self)
    var result = unsafeBitCast(unsafeBitCast(p, to: SIMD8<UInt32>.self) &+ (exponent &<< 23), to: SIMD8<Float>.self)
    result.replace(with: 0, where: x .< -80)
    return result
}

/// The standard normal distribution function Φ(x) = erfc(−x/√2)/2 lane by lane, with a
/// relative error below about 2e−7 over the whole line (erfc by the Chebyshev fit of Numerical
/// Recipes, fractional error < 1.2e−7, so the small values of the left tail keep their digits).
@inline(__always)
func vectorNormalCDF(_ x: SIMD8<Float>) -> SIMD8<Float> {
    let u = x * -0.707_106_781_186_547_5
    let z = u.replacing(with: -u, where: u .< 0)
    let t = 1 / (1 + 0.5 * z)
    var p = SIMD8<Float>(repeating: 0.170_872_77) * t - 0.822_152_23
    p = p * t + 1.488_515_87
    p = p * t - 1.135_203_98
    p = p * t + 0.278_868_07
    p = p * t - 0.186_288_06
    p = p * t + 0.096_784_18
    p = p * t + 0.374_091_96
    p = p * t + 1.000_023_68
    p = p * t - 1.265_512_23
    let tail = t * vectorExp(p - z * z)   // erfc(|u|)
    return 0.5 * tail.replacing(with: 2 - tail, where: u .< 0)
}

/// The logistic function 1 / (1 + e^−x) lane by lane, through ``vectorExp(_:)`` of −|x| so
/// that nothing overflows: e^x / (1 + e^x) for negative x, which is exactly 0 below −80 (and
/// at −∞) and 1 at +∞; NaN stays NaN.
@inline(__always)
func vectorSigmoid(_ x: SIMD8<Float>) -> SIMD8<Float> {
    let e = vectorExp(x.replacing(with: -x, where: x .> 0))
    let positive = 1 / (1 + e)
    return positive.replacing(with: e * positive, where: .!(x .>= 0))
}

/// tanh lane by lane: (1 − e^−2|x|)/(1 + e^−2|x|) with the sign of x, and its Taylor series
/// below |x| = 1/4, where that difference would cancel (relative error about 1e-7 either way).
@inline(__always)
func vectorTanh(_ x: SIMD8<Float>) -> SIMD8<Float> {
    let magnitude = x.replacing(with: -x, where: x .< 0)
    let e = vectorExp(-2 * magnitude)
    var large = (1 - e) / (1 + e)
    large.replace(with: -large, where: x .< 0)
    let x2 = x * x
    var series = SIMD8<Float>(repeating: 62.0 / 2835) * x2 - 17.0 / 315
    series = series * x2 + 2.0 / 15
    series = series * x2 - 1.0 / 3
    let small = x * (series * x2 + 1)
    return large.replacing(with: small, where: magnitude .< 0.25)
}

/// The logistic function over `count` float32 values of `x` into `y` (which may be `x`): Luz's
/// C kernel where it is built (every platform but Apple's; the formula of ``vectorSigmoid(_:)``
/// compiled for AVX2 with FMA as well, which Swift's SIMD code is not), the Swift lanes on
/// Apple's.
@inline(__always)
func float32Sigmoid(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int) {
    #if canImport(Accelerate)
    mapLanes(x, y, count, vectorSigmoid, SigmoidOp.apply)
    #else
    luz_sigmoid_f32(x, y, count)
    #endif
}

/// tanh over `count` float32 values of `x` into `y` (which may be `x`), as ``float32Sigmoid(_:_:_:)``.
@inline(__always)
func float32Tanh(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int) {
    #if canImport(Accelerate)
    mapLanes(x, y, count, vectorTanh, TanhOp.apply)
    #else
    luz_tanh_f32(x, y, count)
    #endif
}

#if canImport(Accelerate)
/// y = f(x) over `count` floats: `lanes` eight at a time, `scalar` for the rest.
@inline(__always)
private func mapLanes(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int,
                      _ lanes: (SIMD8<Float>) -> SIMD8<Float>, _ scalar: (Float) -> Float) {
    var i = 0
    while i + 8 <= count {
        storeLanes(lanes(loadLanes(x + i)), y + i)
        i += 8
    }
    while i < count { y[i] = scalar(x[i]); i += 1 }
}
#endif

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

/// Adds `count` elements of `source` into `destination`, eight floats (or four doubles) at a time.
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

/// The sum of `count` elements, with eight (or four) running sums: a single running sum waits
/// on the latency of every addition, which made the bias gradient cost as much as a GEMM.
@inline(__always)
func sumElements<T: TensorFloat>(_ source: UnsafePointer<T>, _ count: Int) -> T {
    var i = 0
    var total = T.zero
    let from = UnsafeRawPointer(source)
    if T.self == Float.self {
        var a = SIMD8<Float>(), b = SIMD8<Float>()
        while i &+ 16 <= count {
            a += from.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
            b += from.loadUnaligned(fromByteOffset: (i &+ 8) &* 4, as: SIMD8<Float>.self)
            i &+= 16
        }
        total = T((a + b).sum())
    } else if T.self == Double.self {
        var a = SIMD4<Double>(), b = SIMD4<Double>()
        while i &+ 8 <= count {
            a += from.loadUnaligned(fromByteOffset: i &* 8, as: SIMD4<Double>.self)
            b += from.loadUnaligned(fromByteOffset: (i &+ 4) &* 8, as: SIMD4<Double>.self)
            i &+= 8
        }
        total = T((a + b).sum())
    }
    while i < count {
        total += source[i]
        i &+= 1
    }
    return total
}

// MARK: - Dtype dispatch

extension Tensor {
    /// Calls the generic body with the Swift type of a floating-point dtype.
    @inline(__always)
    func dispatchFloat<R>(_ op: String, _ body: (any TensorFloat.Type) -> R) -> R {
        switch dtype {
        case .float32: return body(Float.self)
        case .float64: return body(Double.self)
        default: fatalError("\(op): needs a floating-point tensor, got \(dtype) with shape \(shape)")
        }
    }
}

/// Runs a generic floating-point kernel for a dtype: the body is specialized for Float and Double.
@inline(__always)
func withFloatType<R>(_ dtype: DType, _ op: String,
                      float: () -> R, double: () -> R) -> R {
    switch dtype {
    case .float32: return float()
    case .float64: return double()
    default: fatalError("\(op): needs a floating-point tensor, got \(dtype)")
    }
}
