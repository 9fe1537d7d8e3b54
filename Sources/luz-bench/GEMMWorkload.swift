import Foundation
@_spi(Benchmarks) import LuzTensor

/// The `gemm` workload: float32 GFLOP/s of each GEMM implementation this process has (the
/// loaded BLAS library and the built-in GEMM on each instruction set), side by side, on square
/// products and on the shapes Luz's workloads run, with Luz's threads. One line per shape:
///
///     gemm 1024x1024x1024 NN  library= 250.1  avx512= 230.4  avx2= 150.2  sse2=  40.0  auto=library
func gemmWorkload() {
    let implementations = GEMMImplementations.available
    print("gemm backend: \(BLASBackend.current)")
    // (m, n, k, transposeA, transposeB, what runs it)
    let shapes: [(Int, Int, Int, Bool, Bool, String)] = [
        (256, 256, 256, false, false, "square"),
        (512, 512, 512, false, false, "square"),
        (1024, 1024, 1024, false, false, "square"),
        (2048, 2048, 2048, false, false, "square"),
        (32, 2, 4, false, true, "penguins first layer (x·Wᵀ)"),
        (32, 4, 2, false, false, "its input gradient (g·W)"),
        (2, 4, 32, true, false, "its weight gradient (gᵀ·x)"),
        (100, 2, 2, false, true, "cshape layer"),
        (2, 2, 100, true, false, "cshape weight gradient"),
        (4, 4, 256, true, false, "a 4 × 4 weight gradient over 256 rows"),
        (2, 8, 512, true, false, "a 2 × 8 weight gradient over 512 rows"),
        (4, 4, 1024, true, false, "a 4 × 4 weight gradient over 1024 rows"),
        (4, 4, 4096, true, false, "a 4 × 4 weight gradient over 4096 rows"),
        (4, 4, 256, false, true, "the same, A · Bᵀ"),
        (1, 16, 256, false, false, "a row times a matrix"),
        (32, 32, 16, false, true, "attention scores Q·Kᵀ (head 16)"),
        (32, 16, 32, false, false, "attention P·V"),
        (32, 16, 32, true, false, "attention dV = Pᵀ·dO"),
        (32, 32, 64, false, true, "scores, head 64"),
        (64, 256, 16, false, true, "tiled attention scores Q·Kᵀ and dP = dO·Vᵀ (head 16)"),
        (64, 16, 256, false, false, "tiled attention P·V and dQ = dS·K"),
        (256, 16, 64, true, false, "tiled attention dV = Pᵀ·dO and dK = dSᵀ·Q"),
        (64, 256, 64, false, true, "tiled scores, head 64"),
        (64, 64, 256, false, false, "tiled P·V, head 64"),
        (256, 64, 64, true, false, "tiled dV, head 64"),
        (1024, 64, 64, false, true, "attention projections (x·Wᵀ)"),
        (1024, 256, 64, false, true, "feed-forward up"),
        (1024, 64, 256, false, false, "feed-forward input gradient"),
        (32, 676, 9, false, false, "resnet conv1 lowering"),
        (64, 320, 64, false, false, "resnet Winograd tile product"),
        (64, 64, 320, false, true, "resnet Winograd weight gradient"),
        (128, 128, 9216, false, true, "resnet fc1 forward"),
        (9216, 128, 128, true, false, "resnet fc1 weight gradient"),
        (256, 256, 1024, true, false, "ops transpose@mm (Aᵀ·B)"),
        (256, 256, 1024, false, false, "the same product with A copied"),
        (32, 1024, 256, false, false, "lstm recurrent step (h·W_hh)"),
        (4096, 384, 384, false, true, "bert attention projection"),
        (4096, 1536, 384, false, true, "bert feed-forward up"),
    ]
    for (m, n, k, transposeA, transposeB, _) in shapes {
        let a = UnsafeMutablePointer<Float>.allocate(capacity: m * k)
        let b = UnsafeMutablePointer<Float>.allocate(capacity: k * n)
        let c = UnsafeMutablePointer<Float>.allocate(capacity: m * n)
        defer { a.deallocate(); b.deallocate(); c.deallocate() }
        for i in 0..<(m * k) { a[i] = Float(i % 7) * 0.1 - 0.3 }
        for i in 0..<(k * n) { b[i] = Float(i % 5) * 0.1 - 0.2 }
        let flops = 2.0 * Double(m * n * k)
        // About 0.02 s per timing; the implementations take turns, 15 rounds, and each keeps its
        // best (the machine is shared and its speed drifts: turns spread the drift over all).
        let repetitions = Swift.max(1, Int(2e9 * 0.02 / flops))
        var line = String(format: "gemm %@ %@%@", "\(m)x\(n)x\(k)".padding(toLength: 15, withPad: " ", startingAt: 0),
                          transposeA ? "T" : "N", transposeB ? "T" : "N")
        var best = [Double](repeating: .infinity, count: implementations.count)
        for _ in 0..<15 {
            for (index, implementation) in implementations.enumerated() {
                let seconds = timed {
                    for _ in 0..<repetitions {
                        GEMMImplementations.multiply(implementation, transposeA: transposeA, transposeB: transposeB,
                                                     m: m, n: n, k: k, a: a, b: b, c: c)
                    }
                }
                best[index] = Swift.min(best[index], seconds / Double(repetitions))
            }
        }
        for (implementation, seconds) in zip(implementations, best) {
            line += String(format: "  %@=%7.1f", implementation.name, flops / seconds / 1e9)
        }
        print(line)
        fflush(stdout)
    }
}
