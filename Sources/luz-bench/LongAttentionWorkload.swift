import Foundation
import LuzNN
import LuzTensor

// `luz-bench long-attention`, beside its PyTorch peer bench/torch_long_attention.py: one
// forward and backward pass of multi-head self-attention (d_model 128, 8 heads, batch-first,
// no masks, no dropout) on 8 sequences of 128, 256, 512 and 1 024 tokens, the loss the mean
// square of the output. Beyond 128 keys Luz runs its tiled kernel, which keeps no attention
// probabilities; the resident-memory line after each length shows what that saves.
// LUZ_BENCH_LENGTHS=1024 (comma-separated lengths) runs others.

/// The process's peak resident memory so far, in MB.
func peakResidentMegabytes() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}

func longAttentionWorkload() {
    let generator = Generator(seed: benchSeed)
    let lengths = ProcessInfo.processInfo.environment["LUZ_BENCH_LENGTHS"]?.split(separator: ",").compactMap { Int($0) }
    for length in lengths ?? [128, 256, 512, 1024] {
        let attention = MultiheadAttention(embedDimension: 128, heads: 8, batchFirst: true, generator: generator)
        let x = Tensor.randn([8, length, 128], generator: generator).requiringGrad()
        var loss = 0.0
        func step() {
            let out = attention(x)
            let value = out.pow(2).mean()
            value.backward()
            loss = value.item
            for p in attention.parameters() { p.zeroGrad() }
            x.zeroGrad()
        }
        step()
        let steps = Swift.max(3, 4096 / length)
        let seconds = timed { for _ in 0..<steps { step() } }
        report("lattn\(length)", steps: steps, seconds: seconds, quality: loss)
        print(String(format: "lattn%-5d peak-rss-mb=%.0f", length, peakResidentMegabytes()))
    }
}
