import Foundation
@testable import LuzTensor
import LuzTestSupport
import Testing

/// The tiled attention kernel for long sequences gives the values and gradients of the kernel
/// that keeps the probabilities, and keeps memory linear in the sequence length.
@Suite("Tiled attention")
struct TiledAttentionTests {
    /// Masks of every meaning over a batch of `b` × `heads` matrices of `l` queries and `s`
    /// keys: key padding (true hides), an additive bias per head, and a bool mask (true attends)
    /// that hides every key from query 1 of batch entry 0, so one row has nothing to attend.
    private func masks(b: Int, heads: Int, l: Int, s: Int) -> [AttentionMask] {
        let padding = Tensor((0..<(b * s)).map { $0 % 7 == 3 }, shape: [b, s])
        let bias = Tensor.uniform([b * heads, l, s], low: -1, high: 1, dtype: .float64, generator: Generator(seed: 12))
        let attends = Tensor((0..<(b * l * s)).map { $0 / s != 1 }, shape: [b, l, s])
        return [
            AttentionMask(padding, meaning: .trueHides, batchStride: s, headStride: 0, rowStride: 0, columnStride: 1),
            AttentionMask(bias, meaning: .additive, batchStride: heads * l * s, headStride: l * s, rowStride: s, columnStride: 1),
            AttentionMask(attends, meaning: .trueAttends, batchStride: l * s, headStride: 0, rowStride: s, columnStride: 1),
        ]
    }

    /// Cross-attention of a `[b, l, heads·d]` query on a packed `[b, s, 2·heads·d]` key/value,
    /// by the tiled kernel (blocks of `blocks`) or by the one that keeps the probabilities.
    private func attend(_ query: Tensor, _ keyValue: Tensor, heads: Int, masks: [AttentionMask], causal: Bool,
                        blocks: (queries: Int, keys: Int)?) -> Tensor {
        let b = query.shape[0], l = query.shape[1], width = query.shape[2], d = width / heads
        let q = AttentionOperand.heads(of: query, batchFirst: true, columnOffset: 0, columns: d)
        let k = AttentionOperand.heads(of: keyValue, batchFirst: true, columnOffset: 0, columns: d)
        let v = AttentionOperand.heads(of: keyValue, batchFirst: true, columnOffset: width, columns: d)
        let layout = AttentionOutputLayout.mergedHeads(batch: b, heads: heads, length: l, columns: d, batchFirst: true)
        guard let blocks else {
            let p = Tensor.attentionProbabilities(query: q, key: k, batch: b, heads: heads, scale: 0.6,
                                                  masks: masks, causal: causal)
            return Tensor.attentionValues(p, value: v, layout: layout)
        }
        return Tensor.tiledAttention(query: q, key: k, value: v, batch: b, heads: heads, scale: 0.6, masks: masks,
                                     causal: causal, layout: layout, queryBlock: blocks.queries, keyBlock: blocks.keys)
    }

    @Test func partialBlocksMasksAndCausalMatchTheKernelThatKeepsProbabilities() {
        // 11 queries in blocks of 4 and 13 keys in blocks of 5: every block edge is partial.
        let (b, heads, l, s, d) = (2, 3, 11, 13, 2)
        let query = gradInput([b, l, heads * d], in: -2...2, seed: 21)
        let keyValue = gradInput([b, s, 2 * heads * d], in: -2...2, seed: 22)
        let weights = Tensor.uniform([b, l, heads * d], low: -1, high: 1, dtype: .float64, generator: Generator(seed: 23))
        for causal in [false, true] {
            for masked in [false, true] {
                let m = masked ? masks(b: b, heads: heads, l: l, s: s) : []
                let what = "causal \(causal), masks \(masked)"
                var results: [[Tensor]] = []
                for blocks in [nil, (queries: 4, keys: 5), (queries: 16, keys: 64), (queries: 1, keys: 1)] as [(queries: Int, keys: Int)?] {
                    query.grad = nil
                    keyValue.grad = nil
                    let out = attend(query, keyValue, heads: heads, masks: m, causal: causal, blocks: blocks)
                    (out * weights).sum().backward()
                    results.append([out.detached(), query.grad!, keyValue.grad!])
                }
                for tiled in results.dropFirst() {
                    for (actual, expected) in zip(tiled, results[0]) { assertClose(actual, expected, atol: 1e-12, what) }
                }
                if masked {
                    // Row 1 of batch entry 0 sees no key: its output is 0, as in torch.
                    #expect(results[1][0][0][1].scalars(as: Double.self).allSatisfy { $0 == 0 }, "\(what)")
                }
            }
        }
    }

    @Test func gradientsMatchFiniteDifferences() {
        let (b, heads, l, s, d) = (1, 2, 7, 9, 3)
        let query = gradInput([b, l, heads * d], in: -2...2, seed: 31)
        let keyValue = gradInput([b, s, 2 * heads * d], in: -2...2, seed: 32)
        for causal in [false, true] {
            let m = masks(b: b, heads: heads, l: l, s: s)
            checkGradients([query, keyValue], "causal \(causal)") {
                attend($0[0], $0[1], heads: heads, masks: m, causal: causal, blocks: (queries: 3, keys: 4))
            }
        }
    }

    @Test func longFloat32SequencesAgreeWithTheFloat64Definition() throws {
        // 300 keys: `attention` itself takes the tiled path.
        #expect(Tensor.attentionIsTiled(queries: 300, keys: 300))
        #expect(!Tensor.attentionIsTiled(queries: 128, keys: 128))
        let (b, heads, t, d) = (2, 2, 300, 16)
        let x = Tensor.randn([b, t, 3 * heads * d], generator: Generator(seed: 41)).requiringGrad()
        let x64 = x.detached().to(.float64).requiringGrad()
        let g = Tensor.randn([b, t, heads * d], generator: Generator(seed: 42))
        func selfAttention(_ x: Tensor, tiled: Bool) -> Tensor {
            let operands = (0..<3).map {
                AttentionOperand.heads(of: x, batchFirst: true, columnOffset: $0 * heads * d, columns: d)
            }
            let layout = AttentionOutputLayout.mergedHeads(batch: b, heads: heads, length: t, columns: d, batchFirst: true)
            guard tiled else {
                let p = Tensor.attentionProbabilities(query: operands[0], key: operands[1], batch: b, heads: heads,
                                                      scale: 0.25, causal: true)
                return Tensor.attentionValues(p, value: operands[2], layout: layout)
            }
            return Tensor.attention(query: operands[0], key: operands[1], value: operands[2], batch: b, heads: heads,
                                    scale: 0.25, causal: true, layout: layout)
        }
        let out = selfAttention(x, tiled: true), reference = selfAttention(x64, tiled: false)
        (out * g).sum().backward()
        (reference * g.to(.float64)).sum().backward()
        assertClose(out.to(.float64), reference.detached(), rtol: 1e-4, atol: 1e-5, "output")
        assertClose(try #require(x.grad).to(.float64), try #require(x64.grad), rtol: 1e-3, atol: 1e-4, "gradient")
    }

    @Test func memoryStaysLinearInTheSequenceLength() async {
        await #expect(processExitsWith: .success) { exit(tiledAttentionMemoryScenario()) }
    }
}

/// Runs self-attention on one sequence of 2 048 tokens with 2 heads (float32) by the tiled
/// kernel and by the kernel that keeps its probabilities, and measures the tensor memory each
/// keeps alive for its backward pass. Returns 0 when the tiled kernel keeps less than its output
/// and log-sum-exps plus 64 KB, while the other keeps the 32 MB of probabilities (so the
/// measurement can tell them apart).
func tiledAttentionMemoryScenario() -> Int32 {
    TensorMemory.cacheLimit = 0
    let (heads, t, d) = (2, 2048, 32)
    let x = Tensor.randn([1, t, 3 * heads * d], generator: Generator(seed: 5)).requiringGrad()
    let operands = (0..<3).map { AttentionOperand.heads(of: x, batchFirst: true, columnOffset: $0 * heads * d, columns: d) }
    let layout = AttentionOutputLayout.mergedHeads(batch: 1, heads: heads, length: t, columns: d, batchFirst: true)
    let probabilityBytes = heads * t * t * 4
    let before = TensorMemory.liveBytes
    var kept = 0
    do {
        let out = Tensor.attention(query: operands[0], key: operands[1], value: operands[2], batch: 1, heads: heads,
                                   scale: 0.2, causal: true, layout: layout)
        kept = TensorMemory.liveBytes - before - out.count * 4
        out.sum().backward()
    }
    let limit = heads * t * 4 + 65_536
    var keptByProbabilities = 0
    do {
        let p = Tensor.attentionProbabilities(query: operands[0], key: operands[1], batch: 1, heads: heads,
                                              scale: 0.2, causal: true)
        let out = Tensor.attentionValues(p, value: operands[2], layout: layout)
        keptByProbabilities = TensorMemory.liveBytes - before - out.count * 4 - x.count * 4
    }
    guard kept <= limit else {
        print("the tiled kernel keeps \(kept) bytes beyond its output, more than \(limit)")
        return 1
    }
    guard keptByProbabilities >= probabilityBytes else {
        print("the kernel that keeps probabilities keeps \(keptByProbabilities) bytes, less than \(probabilityBytes)")
        return 2
    }
    return 0
}
