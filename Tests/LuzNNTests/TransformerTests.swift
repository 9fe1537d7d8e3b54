import Foundation
import LuzNN
import LuzTestSupport
import Testing

@Suite("Transformer layers")
struct TransformerTests {
    @Test func childrenAndParametersHaveTorchNames() {
        let encoder = TransformerEncoder(TransformerEncoderLayer(modelDimension: 8, heads: 2, feedForwardDimension: 16),
                                         layerCount: 2, norm: LayerNorm(8))
        let names = encoder.namedParameters().map(\.name)
        #expect(names.prefix(12) == [
            "layers.0.self_attn.in_proj_weight", "layers.0.self_attn.in_proj_bias",
            "layers.0.self_attn.out_proj.weight", "layers.0.self_attn.out_proj.bias",
            "layers.0.linear1.weight", "layers.0.linear1.bias", "layers.0.linear2.weight", "layers.0.linear2.bias",
            "layers.0.norm1.weight", "layers.0.norm1.bias", "layers.0.norm2.weight", "layers.0.norm2.bias",
        ])
        #expect(names.count == 26 && names.suffix(2) == ["norm.weight", "norm.bias"])
        // The stack's layers are copies of the given layer (torch's deepcopy): equal values, distinct tensors.
        let first = encoder.layers[0].linear1.weight, second = encoder.layers[1].linear1.weight
        #expect(first !== second && first.doubles == second.doubles)
        let decoder = TransformerDecoderLayer(modelDimension: 8, heads: 2, feedForwardDimension: 16)
        #expect(Set(decoder.namedParameters().map(\.name)).isSuperset(of: [
            "self_attn.in_proj_weight", "multihead_attn.in_proj_weight", "multihead_attn.out_proj.bias",
            "norm3.weight", "linear2.bias",
        ]))
        #expect(decoder.parameterCount == 2 * (24 * 8 + 24 + 64 + 8) + (16 * 8 + 16) + (8 * 16 + 8) + 3 * 16)
    }

    @Test func encoderLayerGradients() {
        for normFirst in [false, true] {
            let layer = TransformerEncoderLayer(modelDimension: 4, heads: 2, feedForwardDimension: 6, dropout: 0,
                                                activation: normFirst ? .gelu : .relu, batchFirst: true,
                                                normFirst: normFirst, dtype: .float64, generator: Generator(seed: 1))
            let x = gradInput([2, 3, 4], seed: 2)
            let padding = Tensor([[false, false, true], [false, false, false]])
            checkGradients([x] + layer.parameters(), "encoder layer, normFirst \(normFirst)") {
                layer($0[0], keyPaddingMask: padding, causal: normFirst)
            }
        }
    }

    @Test func decoderLayerGradients() {
        let layer = TransformerDecoderLayer(modelDimension: 4, heads: 2, feedForwardDimension: 6, dropout: 0,
                                            activation: .gelu, dtype: .float64, generator: Generator(seed: 3))
        let target = gradInput([3, 2, 4], seed: 4), memory = gradInput([4, 2, 4], seed: 5)   // sequence first
        let memoryPadding = Tensor([[false, false, false, true], [false, true, false, false]])
        checkGradients([target, memory] + layer.parameters(), "decoder layer") {
            layer($0[0], memory: $0[1], memoryKeyPaddingMask: memoryPadding, targetCausal: true)
        }
    }

    @Test func causalLayersHideTheFuture() {
        let t = 1
        let x = Tensor.randn([2, 4, 8], generator: Generator(seed: 6))
        let future = x.cloned()
        // Positions after t get new values (written through views of `future`).
        withNoGrad {
            for b in 0..<2 { future[b][(t + 1)...].copy(from: Tensor.randn([4 - t - 1, 8], generator: Generator(seed: 7))) }
        }
        let encoder = TransformerEncoder(TransformerEncoderLayer(modelDimension: 8, heads: 2, feedForwardDimension: 16,
                                                                 dropout: 0, batchFirst: true, generator: Generator(seed: 8)),
                                         layerCount: 2)
        let out = encoder(x, causal: true), outFuture = encoder(future, causal: true)
        assertClose(outFuture[.all, .range(0..<(t + 1))], out[.all, .range(0..<(t + 1))], atol: 1e-5)
        #expect(!encoder(future)[.all, .range(0..<(t + 1))].isClose(to: encoder(x)[.all, .range(0..<(t + 1))], rtol: 1e-3, atol: 1e-3))

        let decoder = TransformerDecoder(TransformerDecoderLayer(modelDimension: 8, heads: 2, feedForwardDimension: 16,
                                                                 dropout: 0, batchFirst: true, normFirst: true,
                                                                 generator: Generator(seed: 9)),
                                         layerCount: 2, norm: LayerNorm(8))
        let memory = Tensor.randn([2, 3, 8], generator: Generator(seed: 10))
        let decoded = decoder(x, memory: memory, targetCausal: true)
        let decodedFuture = decoder(future, memory: memory, targetCausal: true)
        assertClose(decodedFuture[.all, .range(0..<(t + 1))], decoded[.all, .range(0..<(t + 1))], atol: 1e-5)
        #expect(!decodedFuture.isClose(to: decoded, rtol: 1e-3, atol: 1e-3))
    }

    @Test func dropoutOnlyInTraining() {
        let layer = TransformerEncoderLayer(modelDimension: 8, heads: 2, feedForwardDimension: 16, dropout: 0.3,
                                            generator: Generator(seed: 11))
        let x = Tensor.randn([3, 2, 8], generator: Generator(seed: 12))
        let trained = layer(x)
        layer.eval()
        let evaluated = layer(x)
        #expect(!trained.isClose(to: evaluated, rtol: 1e-3, atol: 1e-3))
        assertClose(layer(x), evaluated, atol: 0)
    }
}

@Suite("PyTorch fixtures")
struct TorchAttentionFixtureTests {
    let state: StateDict

    init() throws { state = try TorchAttentionFixture.load() }

    private func data(_ name: String) -> Tensor { state["data." + name]! }

    @Test func multiheadAttentionMatchesTorch() throws {
        let attention = MultiheadAttention(embedDimension: 8, heads: 2, batchFirst: true)
        try attention.loadStateDict(state.scoped(to: "mha"))
        let x = data("x"), memory = data("memory")
        let padded = attention(x, x, x, keyPaddingMask: data("key_padding"))
        assertClose(padded.output, data("mha.padded.out"), rtol: 1e-4, atol: 1e-5, "key padding: output")
        assertClose(padded.weights!, data("mha.padded.weights"), rtol: 1e-4, atol: 1e-6, "key padding: averaged weights")
        let causal = attention(x, x, x, causal: true, weights: .perHead)
        assertClose(causal.output, data("mha.causal.out"), rtol: 1e-4, atol: 1e-5, "causal: output")
        assertClose(causal.weights!, data("mha.causal.weights"), rtol: 1e-4, atol: 1e-6, "causal: per-head weights")
        let cross = attention(x, memory, memory, keyPaddingMask: data("memory_key_padding"))
        assertClose(cross.output, data("mha.cross.out"), rtol: 1e-4, atol: 1e-5, "cross: output")
        assertClose(cross.weights!, data("mha.cross.weights"), rtol: 1e-4, atol: 1e-6, "cross: weights")

        let separate = MultiheadAttention(embedDimension: 8, heads: 2, keyDimension: 6, valueDimension: 5)
        try separate.loadStateDict(state.scoped(to: "mha_kv"))
        let result = separate(data("mha_kv.query"), data("mha_kv.key"), data("mha_kv.value"),
                              keyPaddingMask: data("memory_key_padding"), weights: .perHead)
        assertClose(result.output, data("mha_kv.out"), rtol: 1e-4, atol: 1e-5, "kdim/vdim: output")
        assertClose(result.weights!, data("mha_kv.weights"), rtol: 1e-4, atol: 1e-6, "kdim/vdim: weights")
    }

    @Test func encoderLayersMatchTorch() throws {
        let post = TransformerEncoderLayer(modelDimension: 8, heads: 2, feedForwardDimension: 16, dropout: 0, batchFirst: true)
        try post.loadStateDict(state.scoped(to: "enc_post"))
        assertClose(post(data("x"), keyPaddingMask: data("key_padding")), data("enc_post.out"), rtol: 1e-4, atol: 1e-5,
                    "post-norm")
        let pre = TransformerEncoderLayer(modelDimension: 8, heads: 2, feedForwardDimension: 16, dropout: 0,
                                          activation: .gelu, normFirst: true)
        try pre.loadStateDict(state.scoped(to: "enc_pre"))
        assertClose(pre(data("x").transposed(0, 1), causal: true), data("enc_pre.out"), rtol: 1e-4, atol: 1e-5,
                    "pre-norm, GELU, sequence first, causal")
        let stack = TransformerEncoder(TransformerEncoderLayer(modelDimension: 8, heads: 2, feedForwardDimension: 16,
                                                               dropout: 0, batchFirst: true),
                                       layerCount: 2, norm: LayerNorm(8))
        try stack.loadStateDict(state.scoped(to: "stack"))
        assertClose(stack(data("x"), keyPaddingMask: data("key_padding")), data("stack.out"), rtol: 1e-4, atol: 1e-5,
                    "two-layer stack with final norm")
    }

    @Test func decoderLayerMatchesTorch() throws {
        let layer = TransformerDecoderLayer(modelDimension: 8, heads: 2, feedForwardDimension: 16, dropout: 0, batchFirst: true)
        try layer.loadStateDict(state.scoped(to: "dec"))
        let out = layer(data("x"), memory: data("memory"), memoryKeyPaddingMask: data("memory_key_padding"),
                        targetCausal: true)
        assertClose(out, data("dec.out"), rtol: 1e-4, atol: 1e-5, "decoder layer")
    }

    @Test func functionsAndSmallLayersMatchTorch() throws {
        let q = data("sdpa.q"), k = data("sdpa.k"), v = data("sdpa.v")
        assertClose(scaledDotProductAttention(query: q, key: k, value: v, mask: data("sdpa.mask")), data("sdpa.masked"),
                    rtol: 1e-4, atol: 1e-5, "SDPA, bool mask (true = may attend)")
        assertClose(scaledDotProductAttention(query: q, key: k, value: v, causal: true), data("sdpa.causal"),
                    rtol: 1e-4, atol: 1e-5, "SDPA, causal with L ≠ S")
        let rms = RMSNorm(8)
        try rms.loadStateDict(state.scoped(to: "rms"))
        assertClose(rms(data("x")), data("rms.out"), rtol: 1e-4, atol: 1e-5, "RMSNorm")
        let embedding = Embedding(10, 8, paddingIndex: 0)
        try embedding.loadStateDict(state.scoped(to: "emb"))
        assertClose(embedding(data("emb.indices")), data("emb.out"), atol: 0, "Embedding")
    }

    @Test func aMismatchedArchitectureIsRefusedByName() {
        // Loading is by name and shape: a layer of another width or layout is refused.
        let wrongWidth = TransformerEncoderLayer(modelDimension: 8, heads: 2, feedForwardDimension: 32)
        #expect(throws: StateDictError.self) { try wrongWidth.loadStateDict(state.scoped(to: "enc_post")) }
        let separate = MultiheadAttention(embedDimension: 8, heads: 2, keyDimension: 6, valueDimension: 5)
        #expect(throws: StateDictError.missingKey("q_proj_weight")) { try separate.loadStateDict(state.scoped(to: "mha")) }
    }
}
