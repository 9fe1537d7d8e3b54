import Foundation
#if !canImport(Accelerate)
import CLuzBLAS
#endif

/// Which implementation runs Luz's matrix products, and why it was chosen.
///
/// Luz needs no BLAS to build or to run. On Apple platforms it uses the Accelerate framework,
/// which every system has. Elsewhere it looks for a BLAS library the first time it multiplies
/// two matrices, in this order, and uses the first that opens and exports `cblas_sgemm` and
/// `cblas_dgemm`:
///
/// 1. `LUZ_BLAS`, when set: a path or a library name (`LUZ_BLAS=builtin` chooses Luz's own
///    GEMM). One that cannot be used is reported on standard error, with the reason, and the
///    search goes on with the libraries below.
/// 2. OpenBLAS (`libopenblas.so.0`, also in Debian's `openblas-pthread`, `openblas-openmp` and
///    `openblas-serial` folders, and Fedora's `libopenblasp`/`libopenblaso`);
/// 3. BLIS (`libblis.so.4`), 4. MKL (`libmkl_rt.so`), 5. any `libblas.so.3` or `libcblas.so.3`.
///
/// When none is found, Luz's built-in GEMM runs every product: packed panels and register tiles
/// written with vector instructions, compiled for AVX-512, AVX2 with FMA and 128-bit vectors
/// (SSE2, NEON), the best one chosen at run time. An OpenBLAS older than the processor may pick
/// a kernel below what the built-in GEMM runs there: one without AVX2, and then the built-in
/// GEMM runs every product; or an AVX2 kernel on an AVX-512 processor, and then it runs every
/// product with no side below 16 while the library keeps the thin ones
/// (``largeProductsOnBuiltin``).
///
/// ```swift
/// print(BLASBackend.current)   // OpenBLAS at /usr/lib/x86_64-linux-gnu/libopenblas.so.0 ...
/// ```
public struct BLASBackend: Sendable, CustomStringConvertible {
    /// The kinds of implementation.
    public enum Kind: String, Sendable, Equatable {
        /// Apple's Accelerate framework.
        case accelerate
        /// A BLAS library opened at run time.
        case library
        /// Luz's own GEMM.
        case builtin
    }

    /// A candidate library that was not used, and why.
    public struct Skipped: Sendable, Equatable {
        /// The name or path that was tried.
        public var candidate: String
        /// Why it was not used: the dynamic loader's message or the missing symbol.
        public var reason: String
    }

    /// The kind of implementation in use.
    public let kind: Kind
    /// The library file in use (for ``Kind/library``), as the dynamic loader resolved it.
    public let path: String?
    /// The library's own description of itself where it has one (OpenBLAS's build
    /// configuration and the kernel it chose), or empty.
    public let configuration: String
    /// Why this backend: `LUZ_BLAS` asked for it, it was the first found, or nothing was found.
    public let reason: String
    /// The candidates tried before this one and why each was passed over (a missing library
    /// is not listed unless `LUZ_BLAS` named it).
    public let skipped: [Skipped]
    /// The instruction set of Luz's built-in GEMM on this processor (`avx512`, `avx2`, `sse2`,
    /// `neon`).
    public let builtinInstructionSet: String
    /// Whether products with no side below 16 run on the built-in GEMM although ``kind`` is a
    /// library: an OpenBLAS running an AVX2 kernel on an AVX-512 processor keeps the thin
    /// products (a layer 2 wide), where it is faster, and leaves the rest to the built-in GEMM.
    public var largeProductsOnBuiltin = false

    /// The backend of this process, chosen on first use (see ``BLASBackend``).
    public static var current: BLASBackend { BLAS.state.backend }

    /// What a user lacking a library can do for faster products, or `nil` when one is in use.
    public var installHint: String? {
        guard kind == .builtin, reason == BLASBackend.noLibraryReason else { return nil }
        return "for faster large matrix products install OpenBLAS (on Debian and Ubuntu: apt-get install libopenblas0)"
    }

    /// One line for a verbose run: the backend, where it was found, and the hint if any.
    public var description: String {
        var text: String
        switch kind {
        case .accelerate:
            text = "Accelerate"
        case .library:
            text = "\(BLASBackend.libraryName(path ?? "")) at \(path ?? "?")"
            if !configuration.isEmpty { text += " (\(configuration))" }
        case .builtin:
            text = "Luz's built-in GEMM (\(builtinInstructionSet))"
        }
        text += ": \(reason)"
        if let installHint { text += "; \(installHint)" }
        return text
    }

    static let requestedBuiltinReason = "LUZ_BLAS=builtin"
    static let noLibraryReason = "no BLAS library found"

    /// OpenBLAS's kernels for processors without AVX2 (the names its build configuration
    /// reports). A Debian OpenBLAS older than a processor picks one of these on it (0.3.21
    /// runs "Prescott" on Sapphire Rapids, about a sixth of the speed of its own AVX-512 kernel there), and then
    /// Luz's built-in GEMM, compiled for AVX2 or AVX-512, is several times faster.
    static let kernelsWithoutAVX2: Set<String> = [
        "Katmai", "Coppermine", "Northwood", "Prescott", "Banias", "Atom", "Core2", "Penryn", "Dunnington",
        "Nehalem", "Sandybridge", "Opteron", "Opteron_SSE3", "Barcelona", "Bobcat", "Bulldozer", "Piledriver",
        "Steamroller", "Nano",
    ]

    /// The kernel named in a library's configuration when it is one of ``kernelsWithoutAVX2``.
    static func kernelWithoutAVX2(in configuration: String) -> String? {
        configuration.split(separator: " ").map(String.init).first { kernelsWithoutAVX2.contains($0) }
    }

    /// OpenBLAS's kernels for processors with AVX2 but not AVX-512. A Debian OpenBLAS older
    /// than an AVX-512 processor may pick one of these on it: 0.3.21 runs "Haswell" on an AMD
    /// EPYC of the Zen 4 generation, where `luz-bench gemm` measured Luz's AVX-512 GEMM at 361
    /// GFLOP/s for 1024³ against OpenBLAS's 228, and 1.3–3.5× OpenBLAS on the tiles of
    /// attention and the products of the resnet workload (three shapes within 10 % either way:
    /// 1024×64×64 NT, 1024×64×256 NN, 64×64×320 NT).
    static let kernelsWithAVX2Only: Set<String> = ["Haswell", "Zen", "Excavator"]

    /// The kernel named in a library's configuration when it is one of ``kernelsWithAVX2Only``.
    static func kernelWithAVX2Only(in configuration: String) -> String? {
        configuration.split(separator: " ").map(String.init).first { kernelsWithAVX2Only.contains($0) }
    }

    /// The library names tried when `LUZ_BLAS` does not choose, in order.
    static var searchedLibraries: [String] {
        #if arch(x86_64)
        let folder = "/usr/lib/x86_64-linux-gnu"
        #elseif arch(arm64)
        let folder = "/usr/lib/aarch64-linux-gnu"
        #else
        let folder = "/usr/lib"
        #endif
        return ["libopenblas.so.0"]
            + ["openblas-pthread", "openblas-openmp", "openblas-serial"].map { "\(folder)/\($0)/libopenblas.so.0" }
            + ["libopenblasp.so.0", "libopenblaso.so.0", "libopenblas.so",
               "libblis.so.4", "\(folder)/blis-pthread/libblis.so.4", "\(folder)/blis-openmp/libblis.so.4",
               "libblis.so", "libmkl_rt.so.2", "libmkl_rt.so", "libblas.so.3", "libcblas.so.3"]
    }

    /// "OpenBLAS", "BLIS", "MKL" or "BLAS", from a library's file name.
    static func libraryName(_ path: String) -> String {
        let file = path.split(separator: "/").last.map(String.init)?.lowercased() ?? ""
        if file.contains("openblas") { return "OpenBLAS" }
        if file.contains("blis") { return "BLIS" }
        if file.contains("mkl") { return "MKL" }
        return "BLAS"
    }
}

#if !canImport(Accelerate)
extension BLASBackend {
    /// Chooses a backend as the process does at its first product: `request` is the value of
    /// `LUZ_BLAS` (nil when unset), `candidates` the libraries searched after it. Returns the
    /// backend, the library opened (nil when none was; one whose kernel is slower than the
    /// built-in GEMM is opened but the backend is the built-in GEMM) and a warning to print when
    /// `LUZ_BLAS` named something that cannot be used.
    static func select(request: String?, candidates: [String]) -> (BLASBackend, luz_blas_library?, warning: String?) {
        let isa = String(cString: luz_gemm_isa_name(luz_gemm_isa()))
        func builtin(_ reason: String, _ skipped: [Skipped]) -> BLASBackend {
            BLASBackend(kind: .builtin, path: nil, configuration: "", reason: reason, skipped: skipped,
                        builtinInstructionSet: isa)
        }
        let request = request?.trimmingCharacters(in: .whitespaces)
        if request?.lowercased() == "builtin" {
            return (builtin(requestedBuiltinReason, []), nil, nil)
        }
        var skipped: [Skipped] = []
        var warning: String?
        var names = candidates
        if let request, !request.isEmpty {
            names.insert(request, at: 0)
        }
        for (index, name) in names.enumerated() {
            var library = luz_blas_library()
            var reason = [CChar](repeating: 0, count: 512)
            if luz_blas_open(name, &library, &reason, reason.count) != 0 {
                let path = withUnsafeBytes(of: library.path) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
                let configuration = withUnsafeBytes(of: library.config) {
                    String(cString: $0.bindMemory(to: CChar.self).baseAddress!)
                }
                let requested = index == 0 && request?.isEmpty == false
                let resolved = path.isEmpty ? name : path
                if !requested, isa == "avx512", let kernel = kernelWithAVX2Only(in: configuration) {
                    let why = "the first BLAS library found; it runs its \(kernel) kernel on this processor, so products "
                        + "with no side below \(BLAS.builtinSmallProductSide) run on the built-in GEMM (\(isa)), faster there"
                    var backend = BLASBackend(kind: .library, path: resolved, configuration: configuration,
                                              reason: why, skipped: skipped, builtinInstructionSet: isa)
                    backend.largeProductsOnBuiltin = true
                    return (backend, library, warning)
                }
                if !requested, isa == "avx2" || isa == "avx512", let kernel = kernelWithoutAVX2(in: configuration) {
                    let why = "\(libraryName(resolved)) at \(resolved) runs its \(kernel) kernel on this processor, "
                        + "slower than the built-in GEMM"
                    // The library stays open (tests compare it with the built-in GEMM) but runs nothing.
                    return (builtin(why, skipped + [Skipped(candidate: name, reason: why)]), library, warning)
                }
                let why = requested ? "LUZ_BLAS=\(name)" : "the first BLAS library found"
                let backend = BLASBackend(kind: .library, path: resolved, configuration: configuration,
                                          reason: why, skipped: skipped, builtinInstructionSet: isa)
                return (backend, library, warning)
            }
            let message = String(cString: reason)
            if index == 0, let request, !request.isEmpty {
                skipped.append(Skipped(candidate: "LUZ_BLAS=\(request)", reason: message))
                warning = "Luz: LUZ_BLAS=\(request) cannot be used (\(message)); looking for another BLAS library"
            } else if !message.contains("No such file") && !message.contains("cannot open shared object") {
                // A library that exists but is unusable is worth saying; an absent one is not.
                skipped.append(Skipped(candidate: name, reason: message))
            }
        }
        return (builtin(noLibraryReason, skipped), nil, warning)
    }
}
#endif

/// Entry points for `luz-bench` to time each GEMM implementation side by side (not API).
@_spi(Benchmarks)
public enum GEMMImplementations {
    /// One implementation a product can be sent to.
    public struct Implementation: Sendable {
        /// "library", "avx512", "avx2", "sse2", "neon", "accelerate", "thin" (the direct loops
        /// for thin small products), or "auto" for Luz's choice.
        public let name: String
        let kernel: BLAS.Kernel?
    }

    /// The implementations this process can run: the loaded library, if any, then the built-in
    /// GEMM on each instruction set the processor has, best first, the direct loops for thin
    /// products, then Luz's own choice.
    public static var available: [Implementation] {
        var implementations: [Implementation] = []
        #if !canImport(Accelerate)
        if BLAS.state.sgemm != nil { implementations.append(Implementation(name: "library", kernel: .library)) }
        for isa in [LUZ_GEMM_AVX512, LUZ_GEMM_AVX2, LUZ_GEMM_PORTABLE].map(Int32.init)
        where luz_gemm_isa_supported(isa) != 0 {
            implementations.append(Implementation(name: String(cString: luz_gemm_isa_name(isa)), kernel: .builtin(isa)))
        }
        implementations.append(Implementation(name: "thin", kernel: .thin))
        #endif
        return implementations + [Implementation(name: "auto", kernel: nil)]
    }

    /// `C = op(A) · op(B)` (row-major, float32) on `implementation`, split across Luz's threads
    /// as every product is.
    public static func multiply(_ implementation: Implementation, transposeA: Bool, transposeB: Bool,
                                m: Int, n: Int, k: Int,
                                a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>) {
        BLAS.gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 1, a: a,
                  lda: transposeA ? m : k, b: b, ldb: transposeB ? k : n, beta: 0, c: c, ldc: n,
                  kernel: implementation.kernel)
    }
}
