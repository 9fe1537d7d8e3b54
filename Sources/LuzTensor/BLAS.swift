#if canImport(Accelerate)
import Accelerate
#else
import CLuzBLAS
#endif
import Foundation

/// Matrix products: through Accelerate on Apple platforms; elsewhere through the BLAS library
/// found at run time (see ``BLASBackend``), or Luz's built-in GEMM when there is none.
///
/// Row-major `C = alpha · op(A) · op(B) + beta · C` with `op` transposing when asked, so callers
/// pass transposes as flags instead of copying.
enum BLAS {
    /// Below this many floating-point operations a product runs on the calling thread: handing
    /// work to another thread costs a few microseconds, what a GEMM of this size takes.
    static let minimumParallelFLOPs = 1 << 21

    /// The backend of this process and the library's entry points, chosen on first use.
    struct State {
        var backend: BLASBackend
        #if !canImport(Accelerate)
        var sgemm: luz_cblas_sgemm_fn?
        var dgemm: luz_cblas_dgemm_fn?
        /// ``prefersBuiltinForSmallProducts(_:isa:)`` of this backend.
        var smallProductsOnBuiltin = false
        /// ``BLASBackend/largeProductsOnBuiltin`` of this backend.
        var largeProductsOnBuiltin = false
        #endif
    }

    static let state: State = {
        #if canImport(Accelerate)
        return State(backend: BLASBackend(kind: .accelerate, path: nil, configuration: "",
                                          reason: "Apple platforms always have Accelerate", skipped: [],
                                          builtinInstructionSet: "none"))
        #else
        let request = ProcessInfo.processInfo.environment["LUZ_BLAS"]
        let (backend, library, warning) = BLASBackend.select(request: request, candidates: BLASBackend.searchedLibraries)
        if let warning { FileHandle.standardError.write(Data((warning + "\n").utf8)) }
        return State(backend: backend, sgemm: library?.sgemm, dgemm: library?.dgemm,
                     smallProductsOnBuiltin: prefersBuiltinForSmallProducts(backend, isa: luz_gemm_isa()),
                     largeProductsOnBuiltin: backend.largeProductsOnBuiltin)
        #endif
    }()

    /// An implementation a product can be sent to.
    enum Kernel: Equatable {
        /// The library loaded at run time.
        case library
        /// The built-in GEMM on one instruction set (`LUZ_GEMM_AVX512`, ...).
        case builtin(Int32)
        /// Direct loops without packing or dispatch, for products that are a few long sums
        /// (``isThinProduct(m:n:k:)``).
        case thin
    }

    /// The most terms (m · n · k) of a product that goes to the direct loops when its result has
    /// at most ``thinProductResultLimit`` elements.
    static let thinProductLimit = 1024
    /// The most elements of the result of a product that goes to the direct loops.
    static let thinProductResultLimit = 16

    /// Whether a product is a few long sums (the weight gradients of the 2-wide layers of
    /// `luz-bench penguins` and `cshape`, 2 × 4 × 32 and 2 × 2 × 100 Aᵀ·B), which direct loops
    /// compute faster than a library's dispatch and packing: `luz-bench gemm` on Zen 5 against
    /// OpenBLAS 0.3.21, 2.2× on 2 × 4 × 32 and 2.1× on 2 × 2 × 100; from 4 × 4 × 256 on, and on
    /// products with many short sums (32 × 2 × 4), the library was faster.
    @inline(__always)
    static func isThinProduct(m: Int, n: Int, k: Int) -> Bool {
        m <= thinProductResultLimit && n <= thinProductResultLimit && m * n <= thinProductResultLimit
            && k <= thinProductLimit && m * n * k <= thinProductLimit
    }

    /// The largest product (m · n · k) that the built-in GEMM takes from an OpenBLAS library
    /// in use, when no side is below ``builtinSmallProductSide``: the per-head products of
    /// attention (32 × 16 × 32, 32 × 32 × 64, ...), which it reads in place without packing.
    /// `luz-bench gemm` on Sapphire Rapids, against OpenBLAS 0.3.21's SkylakeX kernel: 1.28×
    /// (32 × 32 × 16 NT), 1.17× (32 × 16 × 32 NN), 1.05× (TN), 1.06× (32 × 32 × 64 NT); from
    /// 32 × 676 × 9 (195 000) on OpenBLAS was faster.
    static let builtinSmallProductLimit = 1 << 16
    /// The shortest side of a product the built-in GEMM takes from OpenBLAS: on thinner ones
    /// (the 2-wide layers of `luz-bench cshape`, 100 × 2 × 2) its tiles compute mostly
    /// padding, and OpenBLAS was 1.2–8× faster.
    static let builtinSmallProductSide = 16

    /// Whether products up to ``builtinSmallProductLimit`` go to the built-in GEMM although a
    /// library is in use: with OpenBLAS, where the built-in GEMM runs AVX-512 (the only pairing
    /// measured; other libraries and instruction sets keep the library for every product).
    static func prefersBuiltinForSmallProducts(_ backend: BLASBackend, isa: Int32) -> Bool {
        guard backend.kind == .library, isa == Int32(LUZ_GEMM_AVX512) else { return false }
        return backend.configuration.hasPrefix("OpenBLAS")
            || (backend.path ?? "").lowercased().contains("openblas")
    }

    /// Where a product goes when the caller does not say: the direct loops for a few long sums
    /// (``isThinProduct(m:n:k:)``); the built-in GEMM when no library is in use, for sizes the
    /// library's 32-bit interface cannot take, for every product with no thin side when the
    /// library's kernel is below the built-in GEMM's instruction set
    /// (``BLASBackend/largeProductsOnBuiltin``), and for the small products where it beats the
    /// library (``prefersBuiltinForSmallProducts(_:isa:)``); the library otherwise.
    @inline(__always)
    static func automaticKernel(m: Int, n: Int, k: Int, lda: Int, ldb: Int, ldc: Int) -> Kernel {
        #if canImport(Accelerate)
        return .library
        #else
        if isThinProduct(m: m, n: n, k: k) { return .thin }
        let limit = Int(Int32.max)
        if state.backend.kind != .library || m > limit || n > limit || k > limit || lda > limit || ldb > limit || ldc > limit {
            return .builtin(luz_gemm_isa())
        }
        if state.largeProductsOnBuiltin && Swift.min(m, n, k) >= builtinSmallProductSide {
            return .builtin(luz_gemm_isa())
        }
        let small = m * n * k <= builtinSmallProductLimit && Swift.min(m, n, k) >= builtinSmallProductSide
        if state.smallProductsOnBuiltin && small {
            return .builtin(luz_gemm_isa())
        }
        return .library
        #endif
    }

    /// `C = alpha · op(A) · op(B) + beta · C` on `kernel` (the automatic choice when nil), split
    /// across `threads` when large.
    static func gemm<T: GemmScalar>(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                                    alpha: T, a: UnsafePointer<T>, lda: Int, b: UnsafePointer<T>, ldb: Int,
                                    beta: T, c: UnsafeMutablePointer<T>, ldc: Int,
                                    kernel: Kernel? = nil, threads: Int = Parallelism.threadCount) {
        if m == 0 || n == 0 { return }
        let kernel = kernel ?? automaticKernel(m: m, n: n, k: k, lda: lda, ldb: ldb, ldc: ldc)
        split(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb,
              c: c, ldc: ldc, threads: threads) { m, n, a, b, c in
            T.gemmOnThisThread(kernel, transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                               alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
        }
    }

    #if !canImport(Accelerate)
    @inline(__always)
    static func cblasTranspose(_ transpose: Bool) -> Int32 {
        Int32(transpose ? LUZ_CBLAS_TRANS : LUZ_CBLAS_NO_TRANS)
    }
    #endif

    /// Runs `product(m, n, a, b, c)` on the whole problem, or on blocks of the rows (or
    /// columns) of `C` on several threads when the product is large and no Luz kernel is
    /// already spreading products over the cores. (The library itself always runs on one
    /// thread: its idle workers would spin after each product and take the cores from Luz's
    /// elementwise threads.)
    ///
    /// Rows of `C` are rows of `op(A)`: `a + i·lda` when A is not transposed, `a + i` when it
    /// is. Columns of `C` are columns of `op(B)`: `b + j` or `b + j·ldb`. Blocks are multiples of
    /// 16, a multiple of every register tile, except the last. Luz's GEMM adds each element's
    /// terms in the same order whatever block it falls in, so the split changes no bit; a
    /// library may not (OpenBLAS's Zen kernels sum a block's edge rows in another order), and
    /// then the last bits can depend on the number of threads.
    @inline(__always)
    private static func split<T>(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                                 a: UnsafePointer<T>, lda: Int, b: UnsafePointer<T>, ldb: Int,
                                 c: UnsafeMutablePointer<T>, ldc: Int, threads: Int,
                                 _ product: (Int, Int, UnsafePointer<T>, UnsafePointer<T>, UnsafeMutablePointer<T>) -> Void) {
        #if canImport(Accelerate)
        product(m, n, a, b, c)
        #else
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
}

/// Generic entry so kernels written over `TensorFloat` reach the right GEMM.
protocol GemmScalar: TensorFloat, Codable {
    /// A vector of eight scalars, for kernels written with explicit SIMD.
    associatedtype Lanes: SIMD where Lanes.Scalar == Self
    /// One product on the calling thread, on `kernel`.
    static func gemmOnThisThread(_ kernel: BLAS.Kernel, transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                                 alpha: Self, a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int,
                                 beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)
}

extension GemmScalar {
    /// `C = alpha · op(A) · op(B) + beta · C` (row-major) on the backend Luz chose.
    @inline(__always)
    static func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                     alpha: Self, a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int,
                     beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int) {
        BLAS.gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                  a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
    }
}

extension Float: GemmScalar {
    typealias Lanes = SIMD8<Float>
    static func gemmOnThisThread(_ kernel: BLAS.Kernel, transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                                 alpha: Float, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                                 beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        #if canImport(Accelerate)
        cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
        #else
        switch kernel {
        case .library:
            BLAS.state.sgemm!(Int32(LUZ_CBLAS_ROW_MAJOR), BLAS.cblasTranspose(transposeA), BLAS.cblasTranspose(transposeB),
                              Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
        case .builtin(let isa):
            luz_gemm_f32_with(isa, transposeA ? 1 : 0, transposeB ? 1 : 0, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        case .thin:
            luz_gemm_f32_thin(transposeA ? 1 : 0, transposeB ? 1 : 0, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        }
        #endif
    }
}

extension Double: GemmScalar {
    typealias Lanes = SIMD8<Double>
    static func gemmOnThisThread(_ kernel: BLAS.Kernel, transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                                 alpha: Double, a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
                                 beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int) {
        #if canImport(Accelerate)
        cblas_dgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
        #else
        switch kernel {
        case .library:
            BLAS.state.dgemm!(Int32(LUZ_CBLAS_ROW_MAJOR), BLAS.cblasTranspose(transposeA), BLAS.cblasTranspose(transposeB),
                              Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
        case .builtin(let isa):
            luz_gemm_f64_with(isa, transposeA ? 1 : 0, transposeB ? 1 : 0, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        case .thin:
            luz_gemm_f64_thin(transposeA ? 1 : 0, transposeB ? 1 : 0, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        }
        #endif
    }
}
