#if !canImport(Accelerate)
import CLuzBLAS
import Foundation
@testable import LuzTensor
import Testing

/// Every implementation a product can run on in this process: the built-in GEMM on each
/// instruction set the processor has, and the BLAS library when one was found.
private let kernels: [BLAS.Kernel] = {
    var kernels = [LUZ_GEMM_PORTABLE, LUZ_GEMM_AVX2, LUZ_GEMM_AVX512]
        .map(Int32.init)
        .filter { luz_gemm_isa_supported($0) != 0 }
        .map(BLAS.Kernel.builtin)
    if BLAS.state.sgemm != nil { kernels.append(.library) }
    return kernels + [.thin]
}()

private func kernelName(_ kernel: BLAS.Kernel) -> String {
    switch kernel {
    case .library: return "library"
    case .builtin(let isa): return String(cString: luz_gemm_isa_name(isa))
    case .thin: return "thin"
    }
}

/// One product's sizes, transposes and padding of the leading dimensions.
private struct GEMMCase: CustomStringConvertible {
    var m: Int, n: Int, k: Int
    var transposeA = false, transposeB = false
    /// Extra elements at the end of each stored row of A, B and C (non-contiguous rows).
    var padding = (a: 0, b: 0, c: 0)
    var alpha = 1.0, beta = 0.0

    var lda: Int { (transposeA ? m : k) + padding.a }
    var ldb: Int { (transposeB ? k : n) + padding.b }
    var ldc: Int { n + padding.c }
    var aCount: Int { (transposeA ? k : m) * lda }
    var bCount: Int { (transposeB ? n : k) * ldb }
    var cCount: Int { m * ldc }

    var description: String {
        "\(m)×\(n)×\(k) \(transposeA ? "T" : "N")\(transposeB ? "T" : "N") pad \(padding) α \(alpha) β \(beta)"
    }

    /// `alpha · op(A) · op(B) + beta · C` in float64, reading only the stored elements, and
    /// the same sum of absolute values (which bounds the rounding error of any summation order).
    func reference(_ a: [Double], _ b: [Double], _ c: [Double]) -> (value: [Double], magnitude: [Double]) {
        var out = c, magnitude = [Double](repeating: 0, count: c.count)
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0, absolute = 0.0
                for p in 0..<k {
                    let x = transposeA ? a[p * lda + i] : a[i * lda + p]
                    let y = transposeB ? b[j * ldb + p] : b[p * ldb + j]
                    sum += x * y
                    absolute += abs(x * y)
                }
                out[i * ldc + j] = alpha * sum + (beta == 0 ? 0 : beta * c[i * ldc + j])
                magnitude[i * ldc + j] = abs(alpha) * absolute + abs(beta * c[i * ldc + j])
            }
        }
        return (out, magnitude)
    }
}

private func cases() -> [GEMMCase] {
    var cases: [GEMMCase] = []
    let sizes = [(1, 1, 1), (1, 7, 3), (5, 1, 9), (7, 13, 5), (17, 31, 19), (31, 37, 41), (13, 129, 257),
                 (97, 53, 300), (12, 32, 16), (24, 64, 1), (3, 5, 0), (60, 70, 520), (300, 40, 20), (3, 2100, 5),
                 // Half-width tiles of 2·MR rows (n ≤ half a tile, or the last half), with rows left over.
                 (40, 16, 33), (35, 8, 17), (33, 48, 20), (64, 12, 64)]
    for (index, (m, n, k)) in sizes.enumerated() {
        for transposeA in [false, true] {
            for transposeB in [false, true] {
                var c = GEMMCase(m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB)
                if index % 2 == 1 { c.padding = (3, 2, 5) }
                if index % 3 == 1 { c.alpha = -1.5 }
                if index % 3 == 2 { c.beta = 0.5 }
                if index % 4 == 3 { c.beta = 1 }
                cases.append(c)
            }
        }
    }
    return cases
}

/// Deterministic values in (−1, 1).
private func values(_ count: Int, seed: UInt64) -> [Double] {
    var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    return (0..<count).map { _ in
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Double(Int64(bitPattern: state >> 11) % 2_000_000) / 1_000_000 - 1
    }
}

/// One case's inputs, rounded to a scalar type so the reference sees what the kernel sees,
/// and its float64 reference (computed once: it is the slow part of the test).
private struct GEMMProblem {
    var a: [Double], b: [Double], c: [Double]
    var expected: [Double], magnitude: [Double]

    init(_ gemm: GEMMCase, index: Int, round: (Double) -> Double) {
        a = values(gemm.aCount, seed: UInt64(3 * index + 1)).map(round)
        b = values(gemm.bCount, seed: UInt64(3 * index + 2)).map(round)
        c = values(gemm.cCount, seed: UInt64(3 * index + 3)).map(round)
        (expected, magnitude) = gemm.reference(a, b, c)
    }
}

private let float32Problems = cases().enumerated().map { GEMMProblem($1, index: $0, round: { Double(Float($0)) }) }
private let float64Problems = cases().enumerated().map { GEMMProblem($1, index: $0, round: { $0 }) }

@Suite("GEMM on every backend")
struct GEMMTests {

    private func check<T: GemmScalar & BinaryFloatingPoint>(_: T.Type, _ kernel: BLAS.Kernel, threads: Int) {
        let problems = T.self == Float.self ? float32Problems : float64Problems
        for (c, problem) in zip(cases(), problems) {
            let (a, b, initial) = (problem.a, problem.b, problem.c)
            let (expected, magnitude) = (problem.expected, problem.magnitude)
            var out = initial.map { T($0) }
            let ta = a.map { T($0) }, tb = b.map { T($0) }
            out.withUnsafeMutableBufferPointer { pc in
                ta.withUnsafeBufferPointer { pa in
                    tb.withUnsafeBufferPointer { pb in
                        if T.self == Float.self {
                            BLAS.gemm(transposeA: c.transposeA, transposeB: c.transposeB, m: c.m, n: c.n, k: c.k,
                                      alpha: Float(c.alpha), a: UnsafeRawPointer(pa.baseAddress!).assumingMemoryBound(to: Float.self),
                                      lda: c.lda, b: UnsafeRawPointer(pb.baseAddress!).assumingMemoryBound(to: Float.self),
                                      ldb: c.ldb, beta: Float(c.beta),
                                      c: UnsafeMutableRawPointer(pc.baseAddress!).assumingMemoryBound(to: Float.self),
                                      ldc: c.ldc, kernel: kernel, threads: threads)
                        } else {
                            BLAS.gemm(transposeA: c.transposeA, transposeB: c.transposeB, m: c.m, n: c.n, k: c.k,
                                      alpha: c.alpha, a: UnsafeRawPointer(pa.baseAddress!).assumingMemoryBound(to: Double.self),
                                      lda: c.lda, b: UnsafeRawPointer(pb.baseAddress!).assumingMemoryBound(to: Double.self),
                                      ldb: c.ldb, beta: c.beta,
                                      c: UnsafeMutableRawPointer(pc.baseAddress!).assumingMemoryBound(to: Double.self),
                                      ldc: c.ldc, kernel: kernel, threads: threads)
                        }
                    }
                }
            }
            // Each result is within (k + 2)·ε of the sum of its terms' magnitudes, whatever order
            // the terms are added in; a wrong element, tile or transpose is off by far more.
            var worst = 0.0
            var untouched = true
            let epsilon = Double(T.ulpOfOne)
            for i in 0..<c.m {
                for j in 0..<c.ldc {
                    let index = i * c.ldc + j
                    if j < c.n {
                        let bound = Double(c.k + 2) * epsilon * magnitude[index] + epsilon
                        worst = Swift.max(worst, abs(Double(out[index]) - expected[index]) / bound)
                    } else if Double(out[index]) != Double(T(initial[index])) {
                        untouched = false
                    }
                }
            }
            #expect(worst <= 1, "\(kernelName(kernel)) \(T.self) threads \(threads) \(c): error \(worst) of the bound")
            #expect(untouched, "\(kernelName(kernel)) \(c): wrote past the n columns of a row of C")
        }
    }

    @Test("float32 products match a float64 reference", arguments: kernels.map(kernelName))
    func float32(_ name: String) {
        let kernel = kernels.first { kernelName($0) == name }!
        for threads in [1, 2] { check(Float.self, kernel, threads: threads) }
    }

    @Test("float64 products match a float64 reference", arguments: kernels.map(kernelName))
    func float64(_ name: String) {
        let kernel = kernels.first { kernelName($0) == name }!
        for threads in [1, 2] { check(Double.self, kernel, threads: threads) }
    }

    /// op(B) packed once into panels, then multiplied column block by column block (one panel,
    /// or all at once) against A read where it lies: the same values as the reference, for
    /// every case with A not transposed, on each instruction set, in both precisions.
    @Test("products against a packed operand match a float64 reference", arguments: [false, true])
    func packedOperand(doublePrecision: Bool) {
        let instructionSets = [LUZ_GEMM_PORTABLE, LUZ_GEMM_AVX2, LUZ_GEMM_AVX512].map(Int32.init)
            .filter { luz_gemm_isa_supported($0) != 0 }
        let problems = doublePrecision ? float64Problems : float32Problems
        let epsilon = doublePrecision ? Double.ulpOfOne : Double(Float.ulpOfOne)
        for (c, problem) in zip(cases(), problems) where !c.transposeA && c.k > 0 {
            for isa in instructionSets {
                let width = luz_gemm_panel_width(isa, doublePrecision ? 1 : 0)
                for blockWidth in [width, (c.n + width - 1) / width * width] {
                    var out = problem.c
                    if doublePrecision {
                        var panels = [Double](repeating: .nan, count: luz_gemm_f64_packed_b_count(isa, c.k, c.n))
                        luz_gemm_f64_pack_b(isa, c.transposeB ? 1 : 0, c.k, c.n, problem.b, c.ldb, &panels)
                        for column in stride(from: 0, to: c.n, by: blockWidth) {
                            luz_gemm_f64_packed_b_run(isa, c.m, c.k, c.alpha, problem.a, c.lda, panels, column,
                                                      Swift.min(blockWidth, c.n - column), c.beta, &out, c.ldc)
                        }
                    } else {
                        let a = problem.a.map { Float($0) }, b = problem.b.map { Float($0) }
                        var result = problem.c.map { Float($0) }
                        var panels = [Float](repeating: .nan, count: luz_gemm_f32_packed_b_count(isa, c.k, c.n))
                        luz_gemm_f32_pack_b(isa, c.transposeB ? 1 : 0, c.k, c.n, b, c.ldb, &panels)
                        for column in stride(from: 0, to: c.n, by: blockWidth) {
                            luz_gemm_f32_packed_b_run(isa, c.m, c.k, Float(c.alpha), a, c.lda, panels, column,
                                                      Swift.min(blockWidth, c.n - column), Float(c.beta), &result, c.ldc)
                        }
                        out = result.map(Double.init)
                    }
                    var worst = 0.0, untouched = true
                    for i in 0..<c.m {
                        for j in 0..<c.ldc {
                            let index = i * c.ldc + j
                            if j < c.n {
                                let bound = Double(c.k + 2) * epsilon * problem.magnitude[index] + epsilon
                                worst = Swift.max(worst, abs(out[index] - problem.expected[index]) / bound)
                            } else if out[index] != problem.c[index] {
                                untouched = false
                            }
                        }
                    }
                    let name = String(cString: luz_gemm_isa_name(isa))
                    #expect(worst <= 1, "\(name) \(doublePrecision ? "float64" : "float32") blocks of \(blockWidth) \(c): error \(worst) of the bound")
                    #expect(untouched, "\(name) \(c): wrote past the n columns of a row of C")
                }
            }
        }
    }

    @Test("beta 0 ignores NaN in C; alpha 0 and k 0 leave beta · C")
    func specialScalars() {
        for kernel in kernels {
            var c: [Float] = [.nan, .nan, .nan, .nan]
            let a: [Float] = [1, 2, 3, 4], b: [Float] = [1, 0, 0, 1]
            BLAS.gemm(transposeA: false, transposeB: false, m: 2, n: 2, k: 2, alpha: 1, a: a, lda: 2, b: b, ldb: 2,
                      beta: 0, c: &c, ldc: 2, kernel: kernel, threads: 1)
            #expect(c == [1, 2, 3, 4], "\(kernelName(kernel))")
            BLAS.gemm(transposeA: false, transposeB: false, m: 2, n: 2, k: 0, alpha: 1, a: a, lda: 2, b: b, ldb: 2,
                      beta: 2, c: &c, ldc: 2, kernel: kernel, threads: 1)
            #expect(c == [2, 4, 6, 8], "\(kernelName(kernel))")
        }
        for kernel in [BLAS.Kernel.builtin(luz_gemm_isa()), .thin] {
            var c: [Float] = [5, 6]
            let nan: [Float] = [.nan, .nan]
            BLAS.gemm(transposeA: false, transposeB: false, m: 1, n: 2, k: 1, alpha: 0, a: nan, lda: 1, b: nan, ldb: 2,
                      beta: 1, c: &c, ldc: 2, kernel: kernel, threads: 1)
            #expect(c == [5, 6], "\(kernelName(kernel))")
        }
    }

    /// Luz's GEMM sums each element in the same order whichever block of rows it falls in, so a
    /// split changes no bit. A library need not: OpenBLAS 0.3.21's Zen kernels give the rows of a
    /// block's edge another order (1 241 of these 15 631 elements differ in their last bits), so
    /// for it the split is held to the rounding bound of any order.
    @Test("a split across threads gives the same bits as one thread on Luz's GEMM")
    func splitIsExact() {
        let m = 203, n = 77, k = 300
        let a = values(m * k, seed: 11).map { Float($0) }, b = values(k * n, seed: 12).map { Float($0) }
        for kernel in kernels {
            var one = [Float](repeating: 0, count: m * n), two = one
            BLAS.gemm(transposeA: false, transposeB: false, m: m, n: n, k: k, alpha: 1, a: a, lda: k, b: b, ldb: n,
                      beta: 0, c: &one, ldc: n, kernel: kernel, threads: 1)
            BLAS.gemm(transposeA: false, transposeB: false, m: m, n: n, k: k, alpha: 1, a: a, lda: k, b: b, ldb: n,
                      beta: 0, c: &two, ldc: n, kernel: kernel, threads: 2)
            if case .library = kernel {
                // |a|, |b| < 1: every element's terms sum to at most k in magnitude.
                let bound = Float(2 * (k + 2)) * Float.ulpOfOne * Float(k)
                let worst = zip(one, two).map { abs($0 - $1) }.max() ?? 0
                #expect(worst <= bound, "library: a split moved an element by \(worst), beyond \(bound)")
                continue
            }
            let differing = zip(one, two).filter { $0.bitPattern != $1.bitPattern }.count
            #expect(differing == 0, "\(kernelName(kernel)): \(differing) of \(m * n) elements differ")
        }
    }
}

@Suite("Choosing the BLAS backend")
struct BLASBackendTests {
    @Test("LUZ_BLAS=builtin chooses the built-in GEMM and gives no install hint")
    func builtinRequested() {
        let (backend, library, warning) = BLASBackend.select(request: " builtin ", candidates: BLASBackend.searchedLibraries)
        #expect(backend.kind == .builtin)
        #expect(library == nil)
        #expect(warning == nil)
        #expect(backend.installHint == nil)
        #expect(backend.description.contains("built-in GEMM"))
    }

    @Test("a missing LUZ_BLAS file is named, with the loader's reason, and the search goes on")
    func missingRequest() {
        let (backend, _, warning) = BLASBackend.select(request: "/nonexistent/libmissing.so", candidates: [])
        #expect(backend.kind == .builtin)
        #expect(backend.reason == "no BLAS library found")
        #expect(backend.installHint?.contains("libopenblas0") == true)
        let message = warning ?? ""
        #expect(message.contains("LUZ_BLAS=/nonexistent/libmissing.so"), "\(message)")
        #expect(message.contains("No such file"), "\(message)")
        #expect(backend.skipped.first?.candidate == "LUZ_BLAS=/nonexistent/libmissing.so")
    }

    @Test("a library without cblas_sgemm is skipped with a reason, not a crash")
    func libraryWithoutGEMM() {
        // zlib is on every machine Luz builds on, and exports no BLAS.
        let (backend, _, warning) = BLASBackend.select(request: "libz.so.1", candidates: ["libz.so.1"])
        #expect(backend.kind == .builtin)
        #expect(warning?.contains("has no cblas_sgemm") == true, "\(warning ?? "")")
        #expect(backend.skipped.count == 2)
        #expect(backend.skipped.last?.reason.contains("has no cblas_sgemm") == true)
    }

    @Test("OpenBLAS is found where it is installed", .enabled(if: openBLASInstalled, "needs Debian's libopenblas0"))
    func findsOpenBLAS() {
        let (backend, library, _) = BLASBackend.select(request: nil, candidates: BLASBackend.searchedLibraries)
        if backend.kind == .library {
            #expect(library?.sgemm != nil)
            #expect(backend.path?.contains("openblas") == true)
            #expect(backend.description.hasPrefix("OpenBLAS at "))
        } else {
            // OpenBLAS was found but runs a kernel older than the processor: said in the reason.
            #expect(backend.reason.contains("OpenBLAS at"), "\(backend.reason)")
        }
    }

    @Test("with OpenBLAS, attention-sized products go to the built-in GEMM where it runs AVX-512")
    func smallProductsChoice() {
        func backend(_ path: String, _ configuration: String) -> BLASBackend {
            BLASBackend(kind: .library, path: path, configuration: configuration, reason: "test", skipped: [],
                        builtinInstructionSet: "avx512")
        }
        let openBLAS = backend("/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
                               "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY SkylakeX MAX_THREADS=64")
        let avx512 = Int32(LUZ_GEMM_AVX512), avx2 = Int32(LUZ_GEMM_AVX2)
        #expect(BLAS.prefersBuiltinForSmallProducts(openBLAS, isa: avx512))
        #expect(!BLAS.prefersBuiltinForSmallProducts(openBLAS, isa: avx2))
        #expect(!BLAS.prefersBuiltinForSmallProducts(backend("/opt/intel/libmkl_rt.so", ""), isa: avx512))
        #expect(32 * 32 * 64 <= BLAS.builtinSmallProductLimit && 32 * 676 * 9 > BLAS.builtinSmallProductLimit)
        if BLAS.state.smallProductsOnBuiltin && !BLAS.state.largeProductsOnBuiltin {
            #expect(BLAS.automaticKernel(m: 32, n: 16, k: 32, lda: 32, ldb: 16, ldc: 16) == .builtin(avx512))
            #expect(BLAS.automaticKernel(m: 512, n: 512, k: 512, lda: 512, ldb: 512, ldc: 512) == .library)
            #expect(BLAS.automaticKernel(m: 100, n: 2, k: 2, lda: 2, ldb: 2, ldc: 2) == .library)
        }
    }

    @Test("products that are a few long sums go to the direct loops, whatever the backend")
    func fewLongSumsChoice() {
        #expect(BLAS.automaticKernel(m: 2, n: 4, k: 32, lda: 2, ldb: 4, ldc: 4) == .thin)
        #expect(BLAS.automaticKernel(m: 2, n: 2, k: 100, lda: 2, ldb: 2, ldc: 2) == .thin)
        #expect(BLAS.automaticKernel(m: 1, n: 16, k: 64, lda: 64, ldb: 16, ldc: 16) == .thin)
        #expect(BLAS.automaticKernel(m: 4, n: 4, k: 256, lda: 4, ldb: 4, ldc: 4) != .thin)
        #expect(BLAS.automaticKernel(m: 32, n: 2, k: 4, lda: 4, ldb: 4, ldc: 2) != .thin)
        #expect(BLAS.automaticKernel(m: 1, n: 32, k: 4, lda: 4, ldb: 32, ldc: 32) != .thin)
    }

    @Test("an OpenBLAS running an AVX2 kernel on an AVX-512 processor keeps only the thin products")
    func thinProductsStayOnAnAVX2Library() {
        // The choice made without LUZ_BLAS (CI sets it to test one library or the other).
        let (backend, _, _) = BLASBackend.select(request: nil, candidates: BLASBackend.searchedLibraries)
        if backend.kind == .library, backend.builtinInstructionSet == "avx512",
           BLASBackend.kernelWithAVX2Only(in: backend.configuration) != nil {
            #expect(backend.largeProductsOnBuiltin)
            #expect(backend.reason.contains("built-in GEMM"), "\(backend.reason)")
        } else {
            #expect(!backend.largeProductsOnBuiltin)
        }
        // The routing, wherever this process's backend has the flag.
        guard BLAS.state.largeProductsOnBuiltin else { return }
        let avx512 = Int32(LUZ_GEMM_AVX512)
        #expect(BLAS.automaticKernel(m: 512, n: 512, k: 512, lda: 512, ldb: 512, ldc: 512) == .builtin(avx512))
        #expect(BLAS.automaticKernel(m: 64, n: 256, k: 16, lda: 16, ldb: 16, ldc: 256) == .builtin(avx512))
        #expect(BLAS.automaticKernel(m: 100, n: 2, k: 2, lda: 2, ldb: 2, ldc: 2) == .library)
    }

    @Test("OpenBLAS kernels without AVX2 are recognized in its configuration")
    func weakKernels() {
        #expect(BLASBackend.kernelWithoutAVX2(in: "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY Prescott MAX_THREADS=64") == "Prescott")
        #expect(BLASBackend.kernelWithoutAVX2(in: "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY SkylakeX MAX_THREADS=64") == nil)
        #expect(BLASBackend.kernelWithoutAVX2(in: "") == nil)
        // The AVX2 kernels, which an AVX-512 processor outruns on its larger products.
        let haswell = "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64"
        #expect(BLASBackend.kernelWithAVX2Only(in: haswell) == "Haswell")
        #expect(BLASBackend.kernelWithoutAVX2(in: haswell) == nil)   // so an AVX2 processor keeps OpenBLAS for everything
        #expect(BLASBackend.kernelWithAVX2Only(in: "OpenBLAS 0.3.26 DYNAMIC_ARCH SkylakeX") == nil)
        #expect(BLASBackend.kernelWithAVX2Only(in: "OpenBLAS 0.3.21 DYNAMIC_ARCH Prescott") == nil)
    }
}

private let openBLASInstalled: Bool = {
    ["/usr/lib/x86_64-linux-gnu/libopenblas.so.0", "/usr/lib/aarch64-linux-gnu/libopenblas.so.0"]
        .contains { FileManager.default.fileExists(atPath: $0) }
}()
#endif
