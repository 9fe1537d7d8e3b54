import LuzNN
import LuzSerialization
import LuzTensor
import LuzTestSupport
import Testing

/// A module with keys declared without initial values, in both documented forms.
final class KeyedModule: Module {
    @Key("first_layer") var first: Linear
    @Key("second_layer") var second: Linear

    override init() {
        _first = Key(wrappedValue: Linear(2, 3), "first_layer")
        _second = Key("second_layer")
        super.init()
        second = Linear(3, 1)
    }

    override func forward(_ x: Tensor) -> Tensor { second(first(x)) }
}

@Suite("Masks and weights in other libraries' conventions")
struct ForeignLayoutTests {
    @Test func keysDeclaredWithoutAValueNameTheirWeights() {
        let model = KeyedModule()
        #expect(model.stateDict().keys == ["first_layer.weight", "first_layer.bias", "second_layer.weight", "second_layer.bias"])
        #expect(model(Tensor.randn([4, 2])).shape == [4, 1])
    }

    @Test func huggingFaceMasksHideThePaddingAsTorchMasksDo() {
        let attention = MultiheadAttention(embedDimension: 8, heads: 2, batchFirst: true, generator: Generator(seed: 1))
        let x = Tensor.randn([2, 4, 8], generator: Generator(seed: 2))
        let attend = Tensor([[1, 1, 1, 0], [1, 1, 0, 0]] as [[Int64]])
        let torchStyle = attention(x, x, x, keyPaddingMask: attend .== 0).output
        for hf in [attend, attend.to(.float32), attend .== 1] {
            assertClose(attention(x, x, x, attendedKeys: hf).output, torchStyle, rtol: 1e-6, atol: 1e-6)
        }
        let encoder = TransformerEncoderLayer(modelDimension: 8, heads: 2, feedForwardDimension: 16, dropout: 0, batchFirst: true)
        assertClose(encoder(x, attendedKeys: attend), encoder(x, keyPaddingMask: attend .== 0), rtol: 1e-6, atol: 1e-6)
    }

    @Test func aHuggingFaceMaskPassedAsTorchsIsRefused() async {
        await #expect(processExitsWith: .failure) {
            let attention = MultiheadAttention(embedDimension: 4, heads: 1, batchFirst: true)
            let x = Tensor.randn([1, 3, 4])
            _ = attention(x, x, x, keyPaddingMask: Tensor([[1, 1, 0]] as [[Float]]))
        }
        await #expect(processExitsWith: .failure) {
            let attention = MultiheadAttention(embedDimension: 4, heads: 1, batchFirst: true)
            let x = Tensor.randn([1, 3, 4])
            _ = attention(x, x, x, attendedKeys: Tensor([[1, 2, 0]] as [[Int64]]))
        }
    }

    @Test func separateQueryKeyValueWeightsLoadIntoThePackedProjection() throws {
        let source = MultiheadAttention(embedDimension: 6, heads: 2, batchFirst: true, generator: Generator(seed: 3))
        var state = source.stateDict()
        let packed = state["in_proj_weight"]!
        state["in_proj_weight"] = nil
        state["q_proj_weight"] = packed.narrowed(dim: 0, start: 0, length: 6).cloned()
        state["k_proj_weight"] = packed.narrowed(dim: 0, start: 6, length: 6).cloned()
        state["v_proj_weight"] = packed.narrowed(dim: 0, start: 12, length: 6).cloned()
        let target = MultiheadAttention(embedDimension: 6, heads: 2, batchFirst: true, generator: Generator(seed: 4))
        try target.loadStateDict(state)
        let x = Tensor.randn([2, 3, 6], generator: Generator(seed: 5))
        assertClose(target(x, x, x).output, source(x, x, x).output, rtol: 1e-6, atol: 1e-6)
        // Inside a larger module, under its prefix.
        let layer = TransformerEncoderLayer(modelDimension: 6, heads: 2, feedForwardDimension: 8, dropout: 0, batchFirst: true)
        var layerState = layer.stateDict()
        let layerPacked = layerState["self_attn.in_proj_weight"]!
        layerState["self_attn.in_proj_weight"] = nil
        for (i, name) in ["q", "k", "v"].enumerated() {
            layerState["self_attn.\(name)_proj_weight"] = layerPacked.narrowed(dim: 0, start: 6 * i, length: 6).cloned()
        }
        let copy = TransformerEncoderLayer(modelDimension: 6, heads: 2, feedForwardDimension: 8, dropout: 0, batchFirst: true)
        try copy.loadStateDict(layerState)
        assertClose(copy(x), layer(x), rtol: 1e-6, atol: 1e-6)
    }

    @Test func keyMappingRenamesByPrefixSegmentAndName() throws {
        let mapping: KeyMapping = [.dropPrefix("model."), .replaceSegments("attn.c_proj", with: "attention.output"),
                                   .rename("head.w", to: "classifier.weight"), .drop("buffer.ids")]
        let state = StateDict([("model.layer.0.attn.c_proj.weight", Tensor.zeros([1])), ("head.w", Tensor.zeros([2])),
                               ("buffer.ids", Tensor.zeros([3])), ("model.attn.c_projection", Tensor.zeros([4]))])
        let mapped = try mapping.applied(to: state)
        #expect(mapped.keys == ["layer.0.attention.output.weight", "classifier.weight", "attn.c_projection"])
        #expect(throws: StateDictError.self) {
            try KeyMapping([.rename("a", to: "b")]).applied(to: StateDict([("a", Tensor.zeros([1])), ("b", Tensor.zeros([1]))]))
        }
    }
}

@Suite("Building modules without their random initialization")
struct SkippedInitializationTests {
    @Test func layersBuiltWhileSkippingHoldZerosAndDrawNothing() {
        let generator = Generator(seed: 7)
        let before = generator.nextUInt64()
        generator.manualSeed(7)
        let model = Initializer.skipping {
            Sequential {
                Linear(4, 3, generator: generator)
                Embedding(10, 3, generator: generator)
                Conv2d(1, 2, kernelSize: 3, generator: generator)
            }
        }
        #expect(!Initializer.isSkipping)
        for (name, tensor) in model.namedParameters() { #expect(tensor.abs().max().item == 0, "\(name)") }
        #expect(generator.nextUInt64() == before)               // no draw was taken
        // Outside the scope the same layers draw as usual.
        #expect(Linear(4, 3, generator: Generator(seed: 7)).weight.abs().max().item > 0)
    }
}
