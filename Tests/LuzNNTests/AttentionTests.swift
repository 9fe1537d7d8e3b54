import Foundation
import LuzNN
import LuzTestSupport
import Testing

/// softmax(Q Kᵀ · scale + additive) V from primitive ops: the reference the fused kernels
/// must reproduce. `additive` is a float mask (−∞ hides) broadcast to the scores.
private func referenceAttention(_ q: Tensor, _ k: Tensor, _ v: Tensor, additive: Tensor? = nil,
                                scale: Double? = nil) -> Tensor {
    var scores = q.matmul(k, transposingOther: true) * (scale ?? 1 / Double(q.shape[q.rank - 1]).squareRoot())
    if let additive { scores = scores + additive }
    return scores.softmax(dim: -1).matmul(v)
}

/// A [L, S] float mask with −∞ above the diagonal (torch's `generate_square_subsequent_mask`).
private func causalAdditive(_ l: Int, _ s: Int, dtype: DType = .float64) -> Tensor {
    var values = [Double](repeating: 0, count: l * s)
    for i in 0..<l { for j in 0..<s where j > i { values[i * s + j] = -.infinity } }
    return Tensor(values, shape: [l, s], dtype: dtype)
}

@Suite("Scaled dot-product attention")
struct ScaledDotProductAttentionTests {
    @Test func matchesTheCompositeWithBroadcastBatches() {
        let q = gradInput([2, 3, 3, 4], seed: 1), k = gradInput([2, 3, 5, 4], seed: 2), v = gradInput([2, 3, 5, 6], seed: 3)
        assertClose(scaledDotProductAttention(query: q, key: k, value: v), referenceAttention(q, k, v), atol: 1e-12)
        // A key and value shared by every head broadcast like torch's matmul.
        let shared = gradInput([2, 1, 5, 4], seed: 4)
        assertClose(scaledDotProductAttention(query: q, key: shared, value: shared),
                    referenceAttention(q, shared.expanded(to: [2, 3, 5, 4]), shared.expanded(to: [2, 3, 5, 4])), atol: 1e-12)
        assertClose(scaledDotProductAttention(query: q, key: k, value: v, scale: 0.3),
                    referenceAttention(q, k, v, scale: 0.3), atol: 1e-12)
        // Plain matrices, no batch.
        assertClose(scaledDotProductAttention(query: q[1][2], key: k[1][2], value: v[1][2]),
                    referenceAttention(q[1][2], k[1][2], v[1][2]), atol: 1e-12)
    }

    @Test func boolMasksMarkWhatMayBeAttendedAndFloatMasksAdd() {
        let q = gradInput([2, 3, 4], seed: 5), k = gradInput([2, 5, 4], seed: 6), v = gradInput([2, 5, 2], seed: 7)
        let allowed = Tensor([[true, false, true, true, false], [true, true, true, true, true], [false, false, false, true, true]])
        let additive = Tensor.where(allowed, Tensor(scalar: 0.0), Tensor(scalar: -Double.infinity))
        assertClose(scaledDotProductAttention(query: q, key: k, value: v, mask: allowed),
                    referenceAttention(q, k, v, additive: additive), atol: 1e-12)
        let bias = gradInput([2, 1, 5], seed: 8)
        assertClose(scaledDotProductAttention(query: q, key: k, value: v, mask: bias.detached()),
                    referenceAttention(q, k, v, additive: bias.detached()), atol: 1e-12)
        // Per-batch bool masks ([2, 3, 5]) and the causal flag combined with a mask.
        let perBatch = Tensor.stack([allowed, Tensor([[true, true, false, true, true], [false, true, true, true, true], [true, true, true, true, false]])])
        assertClose(scaledDotProductAttention(query: q, key: k, value: v, mask: perBatch),
                    referenceAttention(q, k, v, additive: Tensor.where(perBatch, Tensor(scalar: 0.0), Tensor(scalar: -Double.infinity))),
                    atol: 1e-12)
        assertClose(scaledDotProductAttention(query: q, key: k, value: v, mask: bias.detached(), causal: true),
                    referenceAttention(q, k, v, additive: bias.detached() + causalAdditive(3, 5)), atol: 1e-12)
    }

    @Test func aQueryWithEveryKeyHiddenGetsZeroLikeTorch() {
        let q = gradInput([1, 2, 4], seed: 9), k = gradInput([1, 3, 4], seed: 10), v = gradInput([1, 3, 2], seed: 11)
        let mask = Tensor([[false, false, false], [true, false, true]])
        let out = scaledDotProductAttention(query: q, key: k, value: v, mask: mask)
        #expect(out[0][0].doubles == [0, 0])
        #expect(out.doubles.allSatisfy { $0.isFinite })
    }

    @Test func gradients() {
        let q = gradInput([2, 3, 4], seed: 12), k = gradInput([2, 5, 4], seed: 13), v = gradInput([2, 5, 3], seed: 14)
        checkGradients([q, k, v], "plain") { scaledDotProductAttention(query: $0[0], key: $0[1], value: $0[2]) }
        let allowed = Tensor([[true, false, true, true, false], [true, true, true, true, true], [false, false, true, true, true]])
        checkGradients([q, k, v], "bool mask") { scaledDotProductAttention(query: $0[0], key: $0[1], value: $0[2], mask: allowed) }
        let bias = Tensor.uniform([2, 1, 5], low: -1, high: 1, dtype: .float64, generator: Generator(seed: 15))
        checkGradients([q, k, v], "float mask and causal") {
            scaledDotProductAttention(query: $0[0], key: $0[1], value: $0[2], mask: bias, causal: true)
        }
        // Self-attention on one tensor: the query, key and value gradients add up.
        let x = gradInput([2, 4, 3], seed: 16)
        checkGradients([x], "shared input") { scaledDotProductAttention(query: $0[0], key: $0[0], value: $0[0], causal: true) }
        let shared = gradInput([2, 1, 5, 4], seed: 17), q4 = gradInput([2, 3, 3, 4], seed: 18)
        checkGradients([q4, shared], "broadcast key") { scaledDotProductAttention(query: $0[0], key: $0[1], value: $0[1]) }
    }

    @Test func dropoutOnlyInTrainingAndReproducibleWithAGenerator() {
        let q = gradInput([2, 6, 4], seed: 19).detached(), k = gradInput([2, 6, 4], seed: 20).detached()
        let v = gradInput([2, 6, 4], seed: 21).detached()
        let plain = scaledDotProductAttention(query: q, key: k, value: v)
        assertClose(scaledDotProductAttention(query: q, key: k, value: v, dropout: 0.5, training: false), plain)
        let a = scaledDotProductAttention(query: q, key: k, value: v, dropout: 0.5, generator: Generator(seed: 1))
        let b = scaledDotProductAttention(query: q, key: k, value: v, dropout: 0.5, generator: Generator(seed: 1))
        #expect(a.doubles == b.doubles)
        #expect(!a.isClose(to: plain, rtol: 1e-3, atol: 1e-3))
    }
}

@Suite("Multi-head attention")
struct MultiheadAttentionTests {
    @Test func parametersHaveTorchNamesAndShapes() {
        let packed = MultiheadAttention(embedDimension: 8, heads: 2)
        let names = packed.namedParameters().map { "\($0.name)\($0.parameter.shape)" }
        #expect(names == ["in_proj_weight[24, 8]", "in_proj_bias[24]", "out_proj.weight[8, 8]", "out_proj.bias[8]"])
        let separate = MultiheadAttention(embedDimension: 8, heads: 2, bias: false, keyDimension: 6, valueDimension: 5)
        #expect(separate.namedParameters().map { "\($0.name)\($0.parameter.shape)" }
                == ["q_proj_weight[8, 8]", "k_proj_weight[8, 6]", "v_proj_weight[8, 5]", "out_proj.weight[8, 8]"])
        // torch's initialization: Xavier-uniform projections (bound √(6 / (8 + 24)) = 0.433), zero biases.
        let w = packed.inputProjectionWeight!.doubles
        #expect(w.allSatisfy { abs($0) <= 0.4331 } && w.contains { abs($0) > 0.35 })
        #expect(packed.inputProjectionBias!.doubles.allSatisfy { $0 == 0 })
        #expect(packed.outputProjection.bias!.doubles.allSatisfy { $0 == 0 })
    }

    @Test func matchesTheCompositeDefinitionForEveryLayout() {
        let generator = Generator(seed: 3)
        for batchFirst in [true, false] {
            let attention = MultiheadAttention(embedDimension: 6, heads: 3, batchFirst: batchFirst, dtype: .float64,
                                               generator: generator)
            withNoGrad { attention.inputProjectionBias!.copy(from: Tensor.randn([18], dtype: .float64, generator: generator)) }
            let x = Tensor.randn(batchFirst ? [2, 4, 6] : [4, 2, 6], dtype: .float64, generator: generator)
            let memory = Tensor.randn(batchFirst ? [2, 5, 6] : [5, 2, 6], dtype: .float64, generator: generator)
            // The definition, head by head, on batch-first tensors.
            func reference(_ query: Tensor, _ keyValue: Tensor) -> (Tensor, Tensor) {
                let qb = batchFirst ? query : query.transposed(0, 1), kb = batchFirst ? keyValue : keyValue.transposed(0, 1)
                let w = attention.inputProjectionWeight!.split(size: 6), b = attention.inputProjectionBias!.split(size: 6)
                func project(_ t: Tensor, _ i: Int) -> Tensor {  // [B, T, 6] → [B, 3, T, 2]
                    linear(t, weight: w[i], bias: b[i]).reshaped([2, t.shape[1], 3, 2]).permuted([0, 2, 1, 3])
                }
                let weights = (project(qb, 0).matmul(project(kb, 1), transposingOther: true) / 2.0.squareRoot()).softmax(dim: -1)
                let heads = weights.matmul(project(kb, 2)).permuted([0, 2, 1, 3]).reshaped([2, qb.shape[1], 6])
                let out = attention.outputProjection(heads)
                return (batchFirst ? out : out.transposed(0, 1), weights)
            }
            let (out, weights) = attention(x, x, x, weights: .perHead)
            let (expected, expectedWeights) = reference(x, x)
            assertClose(out, expected, atol: 1e-12, "self-attention, batchFirst \(batchFirst)")
            assertClose(weights!, expectedWeights, atol: 1e-12)
            let (cross, averaged) = attention(x, memory, memory)
            let (expectedCross, crossWeights) = reference(x, memory)
            assertClose(cross, expectedCross, atol: 1e-12, "cross-attention, batchFirst \(batchFirst)")
            assertClose(averaged!, crossWeights.mean(dim: 1), atol: 1e-12)
            // Three distinct tensors take a third path with the same result.
            let (distinct, _) = attention(x, memory, memory.cloned(), weights: .none)
            assertClose(distinct, expectedCross, atol: 1e-12, "distinct key and value")
        }
    }

    @Test func aPaddedKeyGetsExactlyZeroWeight() {
        let attention = MultiheadAttention(embedDimension: 8, heads: 2, batchFirst: true, generator: Generator(seed: 4))
        let x = Tensor.randn([2, 5, 8], generator: Generator(seed: 5))
        let padding = Tensor([[false, false, false, true, true], [false, false, false, false, true]])
        let (out, weights) = attention(x, x, x, keyPaddingMask: padding, weights: .perHead)
        let w = weights!
        #expect(w.shape == [2, 2, 5, 5])
        for b in 0..<2 {
            for h in 0..<2 {
                for i in 0..<5 {
                    let row = w[b][h][i].doubles
                    for j in 0..<5 where padding[b][j].item != 0 { #expect(row[j] == 0, "b \(b) h \(h) query \(i) key \(j)") }
                    #expect(abs(row.reduce(0, +) - 1) < 1e-6)
                }
            }
        }
        // A padded key's value cannot reach the output: change it, the output stays.
        let changed = x.cloned()
        withNoGrad { changed[0][3].copy(from: Tensor.full([8], value: 50)) }
        // Only the value path: the query and key of position 3 change too, so compare the other
        // queries' rows, which depend on position 3 only through its (hidden) key and value.
        let (outChanged, _) = attention(changed, changed, changed, keyPaddingMask: padding, weights: .none)
        for i in [0, 1, 2, 4] { assertClose(outChanged[0][i], out[0][i], atol: 1e-6, "query \(i)") }
        assertClose(outChanged[1], out[1], atol: 0)
        // The averaged weights of padded keys are zero too, and a float mask of −∞ does the same.
        let averaged = attention(x, x, x, keyPaddingMask: padding).weights!
        let floatPadding = Tensor.where(padding, Tensor(scalar: -Float.infinity), Tensor(scalar: Float(0)))
        let averagedFloat = attention(x, x, x, keyPaddingMask: floatPadding).weights!
        assertClose(averagedFloat, averaged, atol: 1e-7)
        #expect(averaged[0].doubles.enumerated().allSatisfy { $0.offset % 5 < 3 || $0.element == 0 })
    }

    @Test func causalMaskHidesTheFuture() {
        let attention = MultiheadAttention(embedDimension: 8, heads: 4, batchFirst: false, generator: Generator(seed: 6))
        let x = Tensor.randn([6, 3, 8], generator: Generator(seed: 7))   // [length, batch, E]
        let t = 2
        let future = x.cloned()
        withNoGrad { future[(t + 1)...].copy(from: Tensor.randn([6 - t - 1, 3, 8], generator: Generator(seed: 8))) }
        let (out, weights) = attention(x, x, x, causal: true, weights: .perHead)
        let outFuture = attention(future, future, future, causal: true).output
        assertClose(outFuture[0...t], out[0...t], atol: 1e-6, "positions up to t")
        #expect(!outFuture[t + 1].isClose(to: out[t + 1], rtol: 1e-3, atol: 1e-3))
        // Without the mask the future leaks into position t: the test can fail.
        let leaky = attention(future, future, future).output
        #expect(!leaky[t].isClose(to: attention(x, x, x).output[t], rtol: 1e-3, atol: 1e-3))
        // Weights above the diagonal are exactly zero; the same with a boolean attention mask
        // (torch's meaning: true = may not attend), a float mask, or a [batch·heads, L, S] mask.
        let w = weights!.doubles
        for (n, value) in w.enumerated() where n % 6 > (n / 6) % 6 { #expect(value == 0) }
        let upper = Tensor((0..<36).map { $0 % 6 > $0 / 6 }, shape: [6, 6])
        assertClose(attention(x, x, x, attentionMask: upper).output, out, atol: 1e-6)
        let floatUpper = Tensor.where(upper, Tensor(scalar: -Float.infinity), Tensor(scalar: Float(0)))
        assertClose(attention(x, x, x, attentionMask: floatUpper).output, out, atol: 1e-6)
        assertClose(attention(x, x, x, attentionMask: upper.expanded(to: [12, 6, 6])).output, out, atol: 1e-6)
    }

    @Test func unbatchedInputsDropTheBatchDimension() {
        let attention = MultiheadAttention(embedDimension: 4, heads: 2, batchFirst: true, generator: Generator(seed: 9))
        let x = Tensor.randn([3, 4], generator: Generator(seed: 10))
        let (out, weights) = attention(x, x, x, keyPaddingMask: Tensor([false, false, true]))
        let (batched, batchedWeights) = attention(x.unsqueezed(dim: 0), x.unsqueezed(dim: 0), x.unsqueezed(dim: 0),
                                                  keyPaddingMask: Tensor([[false, false, true]]))
        #expect(out.shape == [3, 4] && weights!.shape == [3, 3])
        assertClose(out, batched[0], atol: 0)
        assertClose(weights!, batchedWeights![0], atol: 0)
    }

    @Test func gradients() {
        let attention = MultiheadAttention(embedDimension: 4, heads: 2, batchFirst: true, dtype: .float64,
                                           generator: Generator(seed: 11))
        withNoGrad { attention.inputProjectionBias!.copy(from: Tensor.randn([12], dtype: .float64, generator: Generator(seed: 12))) }
        let parameters = attention.parameters()
        let x = gradInput([2, 3, 4], seed: 13), memory = gradInput([2, 5, 4], seed: 14)
        let padding = Tensor([[false, true, false, false, true], [false, false, false, false, false]])
        checkGradients([x] + parameters, "self-attention, causal, averaged weights") {
            let (out, weights) = attention($0[0], $0[0], $0[0], causal: true)
            return out.sum(dim: -1) + weights!.matmul(Tensor([1.0, -2.0, 0.5]))
        }
        checkGradients([x, memory] + parameters, "cross-attention with padding, per-head weights") {
            let (out, weights) = attention($0[0], $0[1], $0[1], keyPaddingMask: padding, weights: .perHead)
            return out.flattened() + weights!.flattened().sum() * 0.1
        }
        let separate = MultiheadAttention(embedDimension: 4, heads: 2, keyDimension: 3, valueDimension: 2,
                                          dtype: .float64, generator: Generator(seed: 15))
        let q = gradInput([3, 2, 4], seed: 16), k = gradInput([5, 2, 3], seed: 17), v = gradInput([5, 2, 2], seed: 18)
        checkGradients([q, k, v] + separate.parameters(), "separate projections, sequence first") {
            separate($0[0], $0[1], $0[2], attentionMask: causalAdditive(3, 5), weights: .none).output
        }
    }

    @Test func dropoutAppliesToTheWeightsInTrainingOnly() {
        let attention = MultiheadAttention(embedDimension: 8, heads: 2, dropout: 0.5, batchFirst: true,
                                           generator: Generator(seed: 19))
        let x = Tensor.randn([2, 6, 8], generator: Generator(seed: 20))
        let (trained, weights) = attention(x, x, x, weights: .perHead)
        // Dropped weights are 0, kept ones doubled: rows no longer sum to 1 (torch returns them so).
        let w = weights!.doubles
        #expect(w.contains(0))
        attention.eval()
        let (evaluated, evalWeights) = attention(x, x, x, weights: .perHead)
        #expect(!trained.isClose(to: evaluated, rtol: 1e-3, atol: 1e-3))
        #expect(evalWeights!.doubles.allSatisfy { $0 > 0 })
        for (kept, full) in zip(w, evalWeights!.doubles) where kept != 0 { #expect(abs(kept - 2 * full) < 1e-6) }
    }
}
