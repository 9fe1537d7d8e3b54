import Foundation
@testable import LuzTensor
import LuzTestSupport
import Testing

/// The fused attention kernels read heads in place from packed projections; these tests
/// compare them with the permute-and-matmul definition and check their gradients.
@Suite("Attention kernels")
struct AttentionKernelTests {
    /// Head `h` of the `part`-th block of `width` columns of a packed `[B, T, parts·width]`
    /// tensor, as `[B, heads, T, width / heads]` (a copy, through differentiable ops).
    private func split(_ packed: Tensor, part: Int, width: Int, heads: Int) -> Tensor {
        let b = packed.shape[0], t = packed.shape[1]
        return packed.narrowed(dim: 2, start: part * width, length: width)
            .reshaped([b, t, heads, width / heads]).permuted([0, 2, 1, 3])
    }

    @Test func packedSelfAttentionMatchesTheDefinition() {
        let (b, t, heads, width) = (2, 4, 3, 6)
        let qkv = gradInput([b, t, 3 * width], seed: 1)
        let padding = Tensor([[false, false, true, false], [false, true, false, true]])
        let bias = Tensor.uniform([b * heads, t, t], low: -1, high: 1, dtype: .float64, generator: Generator(seed: 2))
        func fused(_ x: Tensor, causal: Bool, split: Bool) -> Tensor {
            let operands = (0..<3).map {
                AttentionOperand.heads(of: x, batchFirst: true, columnOffset: $0 * width, columns: width / heads)
            }
            let masks = [
                AttentionMask(padding, meaning: .trueHides, batchStride: t, headStride: 0, rowStride: 0, columnStride: 1),
                AttentionMask(bias, meaning: .additive, batchStride: heads * t * t, headStride: t * t, rowStride: t, columnStride: 1),
            ]
            let layout = AttentionOutputLayout.mergedHeads(batch: b, heads: heads, length: t, columns: width / heads,
                                                           batchFirst: true)
            guard split else {
                return Tensor.attention(query: operands[0], key: operands[1], value: operands[2], batch: b, heads: heads,
                                        scale: 0.7, masks: masks, causal: causal, layout: layout)
            }
            let p = Tensor.attentionProbabilities(query: operands[0], key: operands[1], batch: b, heads: heads,
                                                  scale: 0.7, masks: masks, causal: causal)
            return Tensor.attentionValues(p, value: operands[2], layout: layout)
        }
        func reference(_ x: Tensor, causal: Bool) -> Tensor {
            var scores = split(x, part: 0, width: width, heads: heads)
                .matmul(split(x, part: 1, width: width, heads: heads), transposingOther: true) * 0.7
            scores = scores + bias.reshaped([b, heads, t, t])
            scores = scores.maskedFill(padding.reshaped([b, 1, 1, t]), value: -.infinity)
            if causal {
                let upper = Tensor((0..<(t * t)).map { $0 % t > $0 / t }, shape: [t, t])
                scores = scores.maskedFill(upper, value: -.infinity)
            }
            return scores.softmax(dim: -1).matmul(split(x, part: 2, width: width, heads: heads))
                .permuted([0, 2, 1, 3]).reshaped([b, t, width])
        }
        for causal in [false, true] {
            for split in [false, true] {
                let what = "causal \(causal), \(split ? "probabilities then values" : "one fused op")"
                assertClose(fused(qkv, causal: causal, split: split), reference(qkv, causal: causal), atol: 1e-12, what)
                checkGradients([qkv], what) { fused($0[0], causal: causal, split: split) }
            }
        }
    }

    @Test func sequenceFirstOperandsFromSeparateTensors() {
        // Query [L, B, E] and a packed key/value [S, B, 2E], sequence first, heads of width 2.
        let (b, l, s, heads) = (2, 3, 5, 2)
        let query = gradInput([l, b, 4], seed: 3), keyValue = gradInput([s, b, 8], seed: 4)
        func fused(_ q: Tensor, _ kv: Tensor) -> Tensor {
            let p = Tensor.attentionProbabilities(
                query: .heads(of: q, batchFirst: false, columnOffset: 0, columns: 2),
                key: .heads(of: kv, batchFirst: false, columnOffset: 0, columns: 2), batch: b, heads: heads, scale: 0.5)
            return Tensor.attentionValues(p, value: .heads(of: kv, batchFirst: false, columnOffset: 4, columns: 2),
                                          layout: .mergedHeads(batch: b, heads: heads, length: l, columns: 2, batchFirst: false))
        }
        let qb = query.permuted([1, 0, 2]), kvb = keyValue.permuted([1, 0, 2])
        let expected = (split(qb, part: 0, width: 4, heads: heads)
            .matmul(split(kvb, part: 0, width: 4, heads: heads), transposingOther: true) * 0.5)
            .softmax(dim: -1).matmul(split(kvb, part: 1, width: 4, heads: heads))
            .permuted([2, 0, 1, 3]).reshaped([l, b, 4])
        assertClose(fused(query, keyValue), expected, atol: 1e-12)
        checkGradients([query, keyValue], "sequence first") { fused($0[0], $0[1]) }
        // float32 gives the same values within float precision, on the multi-threaded path too.
        let big = Tensor.randn([64, 10, 12], generator: Generator(seed: 5))
        let p32 = Tensor.attentionProbabilities(query: .heads(of: big, batchFirst: true, columnOffset: 0, columns: 3),
                                                key: .heads(of: big, batchFirst: true, columnOffset: 0, columns: 3),
                                                batch: 64, heads: 4, scale: 1, causal: true)
        let p64 = Tensor.attentionProbabilities(query: .heads(of: big.to(.float64), batchFirst: true, columnOffset: 0, columns: 3),
                                                key: .heads(of: big.to(.float64), batchFirst: true, columnOffset: 0, columns: 3),
                                                batch: 64, heads: 4, scale: 1, causal: true)
        assertClose(p32, p64, rtol: 1e-4, atol: 1e-6)
    }
}

@Suite("Attention softmax exponential")
struct VectorExpTests {
    @Test func matchesLibmWithinTwoUlpAndFlushesHiddenScoresToZero() {
        var worst: Float = 0
        var x: Float = -80
        while x <= 87.9 {
            let lanes = SIMD8<Float>((0..<8).map { x + Float($0) * 0.0137 })
            let result = vectorExp(lanes)
            for i in 0..<8 {
                let exact = Foundation.exp(Double(lanes[i]))
                let error = Swift.abs(Double(result[i]) - exact) / exact
                worst = Swift.max(worst, Float(error))
            }
            x += 0.3719
        }
        #expect(worst < 2.5e-7, "worst relative error \(worst)")
        let hidden = vectorExp(SIMD8<Float>(-.infinity, -81, -1000, -80.5, 0, -0.5, 1, -.greatestFiniteMagnitude))
        #expect(hidden[0] == 0 && hidden[1] == 0 && hidden[2] == 0 && hidden[3] == 0 && hidden[7] == 0)
        #expect(hidden[4] == 1)
        #expect(Swift.abs(hidden[5] - 0.60653066) < 1e-7 && Swift.abs(hidden[6] - 2.7182817) < 1e-6)
    }
}
