import Foundation
import LuzNN
import LuzSerialization
import LuzTensor

/// A BERT-family encoder (BERT, MiniLM, DistilBERT) with Hugging Face's module names, so that
/// its state dict is the published one: `embeddings.word_embeddings.weight`,
/// `encoder.layer.0.attention.self.query.weight`, `pooler.dense.weight`, …
///
/// ```swift
/// let bert = try BertModel.from(folder: "all-MiniLM-L6-v2")     // config.json + model.safetensors
/// let tokens = try WordPieceTokenizer(folder: URL(fileURLWithPath: "all-MiniLM-L6-v2")).encode(batch: ["A sentence."])
/// let hidden = bert(ids: tokens.idTensor, attentionMask: tokens.attentionMaskTensor).lastHiddenState
/// ```
///
/// Each layer is post-norm, as in BERT: self-attention, a residual and a layer norm, then the
/// feed-forward block (GELU), a residual and a layer norm. Values agree with `transformers`'
/// `BertModel` to 1e-4 (a test compares them on all-MiniLM-L6-v2).
public final class BertModel: Module {
    /// The configuration the model was built from.
    public let config: BertConfig
    /// Token, position and token-type embeddings, summed and normalized.
    public var embeddings: BertEmbeddings
    /// The stack of encoder layers.
    public var encoder: BertEncoder
    /// The `[CLS]` pooler (a dense layer and tanh), when the checkpoint has one.
    public var pooler: BertPooler?

    /// A model of `config`'s shape with freshly initialized weights (BERT's N(0, 0.02) for
    /// dense and embedding weights, zero biases, unit layer norms), or, with
    /// `initialized: false`, with zeros, for weights loaded right after (no random table of
    /// `vocabularySize × hiddenSize` values drawn for nothing).
    public init(config: BertConfig, pooler: Bool = true, initialized: Bool = true, generator: Generator? = nil) throws {
        try config.validate()
        self.config = config
        let parts = BertParts(config: config, initialized: initialized, generator: generator)
        embeddings = BertEmbeddings(config, parts)
        encoder = BertEncoder(config, parts)
        self.pooler = pooler && config.family == .bert ? BertPooler(config, parts) : nil
        super.init()
    }

    /// The model in `folder` (Hugging Face's layout: `config.json` and `model.safetensors`),
    /// its weights loaded by their published names.
    ///
    /// Loading is strict: every weight of the model must be in the file and every tensor of the
    /// file must be a weight of the model, except the `embeddings.position_ids` buffer some
    /// checkpoints carry; otherwise the error lists every missing and unexpected key. A
    /// `bert.` prefix (task models' checkpoints) is dropped, and DistilBERT's names are mapped
    /// to BERT's (``BertModel/distilBERTNames``). The pooler is kept when the file has one.
    public static func from(folder: String) throws -> BertModel {
        let config = try BertConfig.read(folder: folder)
        let path = (folder as NSString).appendingPathComponent("model.safetensors")
        guard FileManager.default.fileExists(atPath: path) else { throw BertError.file(path, "does not exist") }
        let state = try (config.family == .bert ? bertNames : distilBERTNames).applied(to: SafeTensors.read(from: path))
        let hasPooler = state["pooler.dense.weight"] != nil
        let model = try BertModel(config: config, pooler: hasPooler, initialized: false)
        try model.load(state, file: path)
        return model
    }

    /// Loads `state` (already under this model's names), listing every key that does not fit.
    public func load(_ state: StateDict, file: String = "<state dict>") throws {
        let own = stateDict()
        let missing = own.keys.filter { state[$0] == nil }
        let unexpected = state.keys.filter { own[$0] == nil }
        let shapes = own.keys.compactMap { key -> String? in
            guard let incoming = state[key], let tensor = own[key], incoming.shape != tensor.shape else { return nil }
            return "\(key) is \(incoming.shape) in the file, \(tensor.shape) in the model"
        }
        guard missing.isEmpty && unexpected.isEmpty && shapes.isEmpty else {
            throw BertError.weights(file: file, missing: missing, unexpected: unexpected, shapes: shapes)
        }
        try loadStateDict(state)
    }

    /// The renaming for checkpoints in BERT's layout: task models' `bert.` prefix dropped,
    /// the position-id buffer left out.
    public static let bertNames: KeyMapping = [.dropPrefix("bert."), .drop("embeddings.position_ids")]

    /// DistilBERT's names mapped to BERT's: the one table of the differences.
    public static let distilBERTNames: KeyMapping = [
        .dropPrefix("distilbert."),
        .drop("embeddings.position_ids"),
        .replacePrefix("transformer.layer.", with: "encoder.layer."),
        .replaceSegments("attention.q_lin", with: "attention.self.query"),
        .replaceSegments("attention.k_lin", with: "attention.self.key"),
        .replaceSegments("attention.v_lin", with: "attention.self.value"),
        .replaceSegments("attention.out_lin", with: "attention.output.dense"),
        .replaceSegments("sa_layer_norm", with: "attention.output.LayerNorm"),
        .replaceSegments("ffn.lin1", with: "intermediate.dense"),
        .replaceSegments("ffn.lin2", with: "output.dense"),
        .replaceSegments("output_layer_norm", with: "output.LayerNorm"),
    ]

    /// What the encoder computes for a batch.
    public struct Output {
        /// The last layer's hidden states, `[batch, length, hiddenSize]`.
        public let lastHiddenState: Tensor
        /// The pooler's output for the `[CLS]` position, `[batch, hiddenSize]`, when the model
        /// has a pooler.
        public let pooled: Tensor?
    }

    /// The encoder applied to token ids `[batch, length]` (or `[length]`).
    ///
    /// - Parameters:
    ///   - ids: int64 token ids.
    ///   - attentionMask: Hugging Face's mask, `[batch, length]`: **1 for tokens to attend, 0
    ///     for padding**, as int64 or float (what ``WordPieceTokenizer`` returns). A bool mask
    ///     is refused, since its meaning is ambiguous; pass it as `keyPaddingMask`.
    ///   - keyPaddingMask: torch's convention instead: bool, **`true` for padding** to ignore.
    ///   - tokenTypes: int64 segment ids `[batch, length]` (zeros when `nil`).
    public func callAsFunction(ids: Tensor, attentionMask: Tensor? = nil, keyPaddingMask: Tensor? = nil,
                               tokenTypes: Tensor? = nil) -> Output {
        let batched = ids.rank == 1 ? ids.unsqueezed(dim: 0) : ids
        require(batched.rank == 2 && batched.dtype == .int64,
                "BertModel: ids must be int64 [batch, length], got \(ids.dtype) \(ids.shape)")
        let attend = BertModel.attendMask(attentionMask: attentionMask, keyPaddingMask: keyPaddingMask,
                                          shape: batched.shape, unbatched: ids.rank == 1)
        let types = tokenTypes.map { ids.rank == 1 ? $0.unsqueezed(dim: 0) : $0 }
        var hidden = embeddings(ids: batched, tokenTypes: types)
        for layer in encoder.layers { hidden = layer(hidden, attend: attend) }
        let pooled = pooler.map { $0(hidden) }
        if ids.rank == 1 { return Output(lastHiddenState: hidden.squeezed(dim: 0), pooled: pooled?.squeezed(dim: 0)) }
        return Output(lastHiddenState: hidden, pooled: pooled)
    }

    /// The last hidden states of `input` (token ids), without a mask: the single-tensor form
    /// the training loop and `Sequential` call.
    public override func forward(_ input: Tensor) -> Tensor { self(ids: input).lastHiddenState }

    /// The bool mask `[batch, 1, 1, length]` whose `true` keys may be attended, from either
    /// convention, or `nil` when every key is.
    static func attendMask(attentionMask: Tensor?, keyPaddingMask: Tensor?, shape: [Int], unbatched: Bool) -> Tensor? {
        require(attentionMask == nil || keyPaddingMask == nil,
                "BertModel: pass attentionMask (1 = attend) or keyPaddingMask (true = padding), not both")
        func batched(_ mask: Tensor) -> Tensor { unbatched ? mask.unsqueezed(dim: 0) : mask }
        let attend: Tensor
        if let mask = attentionMask {
            require(mask.dtype != .bool,
                    "BertModel: attentionMask follows Hugging Face's convention, 1 = attend and 0 = padding, as int64 or float; this one is bool, whose meaning differs between libraries: pass a bool mask whose true entries are padding as keyPaddingMask, or convert it with .to(.int64)")
            let values = batched(mask)
            require(values.shape == shape, "BertModel: attentionMask \(mask.shape) does not match the ids \(shape)")
            let ones = values .== 1, zeros = values .== 0
            require(ones.logicalOr(zeros).to(.int64).min().item == 1,
                    "BertModel: attentionMask must hold only 1 (attend) and 0 (padding)")
            attend = ones
        } else if let mask = keyPaddingMask {
            require(mask.dtype == .bool, "BertModel: keyPaddingMask must be bool (true = padding), got \(mask.dtype); for Hugging Face's 1/0 mask use attentionMask")
            let values = batched(mask)
            require(values.shape == shape, "BertModel: keyPaddingMask \(mask.shape) does not match the ids \(shape)")
            attend = values.logicalNot()
        } else {
            return nil
        }
        return attend.reshaped([shape[0], 1, 1, shape[1]])
    }
}

/// How the parts are made: initialized as BERT does, or left at zero for weights loaded next.
struct BertParts {
    let config: BertConfig
    let initialized: Bool
    let generator: Generator?

    func linear(_ input: Int, _ output: Int) -> Linear {
        let weight = initialized ? Tensor.randn([output, input], generator: generator) * config.initializerRange
            : Tensor.zeros([output, input])
        return Linear(weight: weight.requiringGrad(), bias: Tensor.zeros([output]).requiringGrad())
    }

    func embedding(_ count: Int, paddingIndex: Int? = nil) -> Embedding {
        let weight = initialized ? Tensor.randn([count, config.hiddenSize], generator: generator) * config.initializerRange
            : Tensor.zeros([count, config.hiddenSize])
        if initialized, let paddingIndex, paddingIndex < count {
            // BERT's initialization zeroes the padding token's row.
            weight.selected(dim: 0, index: paddingIndex).fill(0)
        }
        return Embedding(weight: weight.requiringGrad(), paddingIndex: paddingIndex)
    }

    func layerNorm() -> LayerNorm { LayerNorm(config.hiddenSize, epsilon: config.layerNormEpsilon) }
}

extension BertConfig {
    /// BERT's initialization scale, N(0, 0.02).
    var initializerRange: Double { 0.02 }
}

/// The sum of token, position and token-type embeddings, normalized (`embeddings.*`).
public final class BertEmbeddings: Module {
    /// The token table, `[vocabularySize, hiddenSize]`.
    @Key("word_embeddings") public var words: Embedding
    /// The learned position table, `[maximumPositions, hiddenSize]`.
    @Key("position_embeddings") public var positions: Embedding
    /// The segment table, `[tokenTypeCount, hiddenSize]` (none for DistilBERT).
    @Key("token_type_embeddings") public var tokenTypes: Embedding?
    /// The layer norm (`LayerNorm`).
    @Key("LayerNorm") public var norm: LayerNorm
    /// Dropout on the hidden states (training only).
    public var dropout: Dropout

    init(_ config: BertConfig, _ parts: BertParts) {
        _words = Key(wrappedValue: parts.embedding(config.vocabularySize, paddingIndex: config.paddingTokenID), "word_embeddings")
        _positions = Key(wrappedValue: parts.embedding(config.maximumPositions), "position_embeddings")
        _tokenTypes = Key(wrappedValue: config.tokenTypeCount > 0 ? parts.embedding(config.tokenTypeCount) : nil,
                          "token_type_embeddings")
        _norm = Key(wrappedValue: parts.layerNorm(), "LayerNorm")
        dropout = Dropout(probability: config.hiddenDropout)
        super.init()
    }

    /// The embedded tokens `[batch, length, hidden]`.
    func callAsFunction(ids: Tensor, tokenTypes types: Tensor?) -> Tensor {
        let length = ids.shape[1]
        require(length <= positions.weight.shape[0],
                "BertModel: \(length) tokens exceed the \(positions.weight.shape[0]) positions of the model; truncate the input")
        var sum = words(ids) + positions(Tensor.arange(length)).unsqueezed(dim: 0)
        if let table = tokenTypes {
            sum = sum + table(types ?? Tensor.zeros(ids.shape, dtype: .int64))
        } else {
            require(types == nil, "BertModel: this model has no token-type embedding (DistilBERT); pass no tokenTypes")
        }
        return dropout(norm(sum))
    }
}

/// The encoder layers (`encoder.layer.N`).
public final class BertEncoder: Module {
    /// The layers, in order.
    @Key("layer") public var layers: [BertLayer]

    init(_ config: BertConfig, _ parts: BertParts) {
        _layers = Key(wrappedValue: (0..<config.layerCount).map { _ in BertLayer(config, parts) }, "layer")
        super.init()
    }
}

/// One post-norm encoder layer: attention, then the feed-forward block.
public final class BertLayer: Module {
    /// Self-attention and its residual output.
    public var attention: BertAttention
    /// The feed-forward expansion.
    public var intermediate: BertIntermediate
    /// The block's output: dense, dropout, residual, layer norm.
    public var output: BertResidualOutput

    init(_ config: BertConfig, _ parts: BertParts) {
        attention = BertAttention(config, parts)
        intermediate = BertIntermediate(config, parts)
        output = BertResidualOutput(config, parts, inputWidth: config.intermediateSize)
        super.init()
    }

    func callAsFunction(_ hidden: Tensor, attend: Tensor?) -> Tensor {
        let attended = attention(hidden, attend: attend)
        return output(intermediate(attended), residual: attended)
    }
}

/// Self-attention and its output block (`attention.self`, `attention.output`).
public final class BertAttention: Module {
    /// The projections and the attention itself.
    @Key("self") public var selfAttention: BertSelfAttention
    /// The block's output: dense, dropout, residual, layer norm.
    public var output: BertResidualOutput

    init(_ config: BertConfig, _ parts: BertParts) {
        _selfAttention = Key(wrappedValue: BertSelfAttention(config, parts), "self")
        output = BertResidualOutput(config, parts, inputWidth: config.hiddenSize)
        super.init()
    }

    func callAsFunction(_ hidden: Tensor, attend: Tensor?) -> Tensor {
        output(selfAttention(hidden, attend: attend), residual: hidden)
    }
}

/// Separate query, key and value projections, split into heads.
public final class BertSelfAttention: Module {
    /// The query projection.
    public var query: Linear
    /// The key projection.
    public var key: Linear
    /// The value projection.
    public var value: Linear
    let headCount: Int
    let attentionDropout: Double

    init(_ config: BertConfig, _ parts: BertParts) {
        query = parts.linear(config.hiddenSize, config.hiddenSize)
        key = parts.linear(config.hiddenSize, config.hiddenSize)
        value = parts.linear(config.hiddenSize, config.hiddenSize)
        headCount = config.headCount
        attentionDropout = config.attentionDropout
        super.init()
    }

    func callAsFunction(_ hidden: Tensor, attend: Tensor?) -> Tensor {
        let batch = hidden.shape[0], length = hidden.shape[1], width = hidden.shape[2]
        let headSize = width / headCount
        func heads(_ x: Tensor) -> Tensor { x.reshaped([batch, length, headCount, headSize]).permuted([0, 2, 1, 3]) }
        let context = scaledDotProductAttention(query: heads(query(hidden)), key: heads(key(hidden)), value: heads(value(hidden)),
                                                mask: attend, dropout: isTraining ? attentionDropout : 0, training: isTraining)
        return context.permuted([0, 2, 1, 3]).reshaped([batch, length, width])
    }
}

/// A dense layer, dropout, the residual and a layer norm: the attention block's output
/// (`attention.output`, from the hidden width) and the feed-forward block's (`output`, from
/// the intermediate width).
public final class BertResidualOutput: Module {
    /// The dense layer.
    public var dense: Linear
    /// The layer norm (`LayerNorm`).
    @Key("LayerNorm") public var norm: LayerNorm
    /// Dropout on the hidden states (training only).
    public var dropout: Dropout

    init(_ config: BertConfig, _ parts: BertParts, inputWidth: Int) {
        dense = parts.linear(inputWidth, config.hiddenSize)
        _norm = Key(wrappedValue: parts.layerNorm(), "LayerNorm")
        dropout = Dropout(probability: config.hiddenDropout)
        super.init()
    }

    func callAsFunction(_ x: Tensor, residual: Tensor) -> Tensor { norm(dropout(dense(x)) + residual) }
}

/// The feed-forward expansion and its activation (`intermediate.dense`).
public final class BertIntermediate: Module {
    /// The dense layer.
    public var dense: Linear
    let activation: String

    init(_ config: BertConfig, _ parts: BertParts) {
        dense = parts.linear(config.hiddenSize, config.intermediateSize)
        activation = config.activation
        super.init()
    }

    public override func forward(_ input: Tensor) -> Tensor {
        let x = dense(input)
        switch activation {
        case "relu": return x.relu()
        case "gelu_new", "gelu_pytorch_tanh": return x.gelu(approximateTanh: true)
        default: return x.gelu()
        }
    }
}

/// The `[CLS]` pooler: tanh of a dense layer on the first position's hidden state.
public final class BertPooler: Module {
    /// The dense layer.
    public var dense: Linear

    init(_ config: BertConfig, _ parts: BertParts) {
        dense = parts.linear(config.hiddenSize, config.hiddenSize)
        super.init()
    }

    public override func forward(_ hidden: Tensor) -> Tensor {
        dense(hidden.selected(dim: 1, index: 0)).tanh()
    }
}
