#if canImport(Accelerate)
import Accelerate
#else
import CBLAS
#endif

/// Matrix products through the system BLAS (OpenBLAS on Linux, Accelerate on Apple platforms).
///
/// Row-major `C = alpha · op(A) · op(B) + beta · C` with `op` transposing when asked, so callers
/// pass transposes as flags instead of copying.
enum BLAS {
    /// Below this many floating-point operations a product runs on the calling thread: handing
    /// work to another thread costs a few microseconds, what a GEMM of this size takes.
    static let minimumParallelFLOPs = 1 << 21

    /// OpenBLAS runs on one thread; Luz splits products across its own threads instead.
    ///
    /// OpenBLAS's idle threads spin for a long while after each product, which on a machine
    /// with few cores steals them from Luz's elementwise threads (and from the other worker of
    /// a convolution). With one BLAS thread, every thread that runs is one Luz asked for.
    static let prepareThreads: Void = {
        #if !canImport(Accelerate)
        openblas_set_num_threads(1)
        #endif
    }()

    static func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                     alpha: Float, a: UnsafePointer<Float>, lda: Int,
                     b: UnsafePointer<Float>, ldb: Int,
                     beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if m == 0 || n == 0 { return }
        split(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb,
              c: c, ldc: ldc) { m, n, a, b, c in
            cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                        blasInt(m), blasInt(n), blasInt(k), alpha, a, blasInt(lda), b, blasInt(ldb), beta, c, blasInt(ldc))
        }
    }

    static func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                     alpha: Double, a: UnsafePointer<Double>, lda: Int,
                     b: UnsafePointer<Double>, ldb: Int,
                     beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int) {
        if m == 0 || n == 0 { return }
        split(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb,
              c: c, ldc: ldc) { m, n, a, b, c in
            cblas_dgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                        blasInt(m), blasInt(n), blasInt(k), alpha, a, blasInt(lda), b, blasInt(ldb), beta, c, blasInt(ldc))
        }
    }

    /// Runs `product(m, n, a, b, c)` on the whole problem, or on blocks of the rows (or
    /// columns) of `C` on several threads when the product is large and no Luz kernel is
    /// already spreading BLAS calls over the cores.
    ///
    /// Rows of `C` are rows of `op(A)`: `a + i·lda` when A is not transposed, `a + i` when it
    /// is. Columns of `C` are columns of `op(B)`: `b + j` or `b + j·ldb`. Blocks are multiples of
    /// 16, the register tile of the BLAS kernels, except the last.
    @inline(__always)
    private static func split<T>(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                                 a: UnsafePointer<T>, lda: Int, b: UnsafePointer<T>, ldb: Int,
                                 c: UnsafeMutablePointer<T>, ldc: Int,
                                 _ product: (Int, Int, UnsafePointer<T>, UnsafePointer<T>, UnsafeMutablePointer<T>) -> Void) {
        _ = prepareThreads
        #if canImport(Accelerate)
        product(m, n, a, b, c)
        #else
        let threads = Parallelism.threadCount
        let flops = 2 * m * n * Swift.max(k, 1)
        let alongRows = m >= n
        let extent = alongRows ? m : n
        guard threads > 1, flops >= minimumParallelFLOPs, extent >= 32, !BLASThreads.inParallelRegion else {
            product(m, n, a, b, c)
            return
        }
        let parts = Swift.min(threads, extent / 16)
        let block = ((extent + parts - 1) / parts + 15) / 16 * 16
        parallelForEach(parts) { part in
            let start = part * block
            let end = Swift.min(extent, start + block)
            guard start < end else { return }
            if alongRows {
                product(end - start, n, a + (transposeA ? start : start * lda), b, c + start * ldc)
            } else {
                product(m, end - start, a, b + (transposeB ? start * ldb : start), c + start)
            }
        }
        #endif
    }

    #if canImport(Accelerate)
    @inline(__always) static func blasInt(_ v: Int) -> Int32 { Int32(v) }
    #else
    @inline(__always) static func blasInt(_ v: Int) -> blasint { blasint(v) }
    #endif
}

/// Generic entry so kernels written over `TensorFloat` reach the right BLAS routine.
protocol GemmScalar: TensorFloat {
    /// A vector of eight scalars, for kernels written with explicit SIMD.
    associatedtype Lanes: SIMD where Lanes.Scalar == Self
    static func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                     alpha: Self, a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int,
                     beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)
}

extension Float: GemmScalar {
    typealias Lanes = SIMD8<Float>
    static func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                     alpha: Float, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                     beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        BLAS.gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                  a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
    }
}

extension Double: GemmScalar {
    typealias Lanes = SIMD8<Double>
    static func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                     alpha: Double, a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
                     beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int) {
        BLAS.gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                  a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
    }
}
