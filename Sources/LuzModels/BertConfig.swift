import Foundation
import LuzTensor

/// The shape of a BERT-family encoder, read from a Hugging Face `config.json`: BERT, MiniLM
/// (`"model_type": "bert"`) and DistilBERT (`"model_type": "distilbert"`, whose keys differ).
public struct BertConfig: Equatable, Sendable {
    /// The architecture family the weights' names follow.
    public enum Family: String, Sendable {
        /// BERT and the models published in its layout (MiniLM, …): `encoder.layer.N.…`.
        case bert
        /// DistilBERT: `transformer.layer.N.…`, no token types, no pooler.
        case distilBERT = "distilbert"
    }

    /// The naming the weights follow.
    public var family: Family = .bert
    /// Rows of the token embedding (`vocab_size`).
    public var vocabularySize = 30522
    /// The width of every hidden state (`hidden_size`, DistilBERT's `dim`).
    public var hiddenSize = 768
    /// Encoder layers (`num_hidden_layers`, `n_layers`).
    public var layerCount = 12
    /// Attention heads per layer (`num_attention_heads`, `n_heads`).
    public var headCount = 12
    /// The feed-forward width (`intermediate_size`, `hidden_dim`).
    public var intermediateSize = 3072
    /// The feed-forward activation (`hidden_act`, `activation`): `gelu` (exact, erf),
    /// `gelu_new` / `gelu_pytorch_tanh` (the tanh approximation) or `relu`.
    public var activation = "gelu"
    /// The longest sequence the position table covers (`max_position_embeddings`).
    public var maximumPositions = 512
    /// Rows of the token-type (segment) embedding (`type_vocab_size`; 0 for DistilBERT).
    public var tokenTypeCount = 2
    /// The layer norms' epsilon (`layer_norm_eps`; DistilBERT uses 1e-12).
    public var layerNormEpsilon = 1e-12
    /// Dropout on hidden states (`hidden_dropout_prob`, `dropout`).
    public var hiddenDropout = 0.1
    /// Dropout on attention weights (`attention_probs_dropout_prob`, `attention_dropout`).
    public var attentionDropout = 0.1
    /// The padding token's id (`pad_token_id`).
    public var paddingTokenID = 0

    /// A configuration with BERT-base's values, changed as given.
    public init() {}

    /// The configuration in `folder/config.json`.
    /// - Throws: ``BertError`` naming the file and the field when it is missing, malformed or
    ///   describes something this encoder does not implement (relative positions, another
    ///   activation, a hidden size the heads do not divide).
    public static func read(folder: String) throws -> BertConfig {
        let path = (folder as NSString).appendingPathComponent("config.json")
        guard let data = FileManager.default.contents(atPath: path) else {
            throw BertError.file(path, "cannot be read")
        }
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw BertError.file(path, "is not a JSON object")
        }
        return try BertConfig(json: object, path: path)
    }

    /// Reads the fields of a parsed `config.json`.
    init(json: [String: Any], path: String) throws {
        func integer(_ key: String) throws -> Int? {
            guard let value = json[key], !(value is NSNull) else { return nil }
            guard let number = value as? NSNumber, Double(number.intValue) == number.doubleValue else {
                throw BertError.field(path, key, "is \(value), not an integer")
            }
            return number.intValue
        }
        func real(_ key: String) throws -> Double? {
            guard let value = json[key], !(value is NSNull) else { return nil }
            guard let number = value as? NSNumber else { throw BertError.field(path, key, "is \(value), not a number") }
            return number.doubleValue
        }
        func text(_ key: String) throws -> String? {
            guard let value = json[key], !(value is NSNull) else { return nil }
            guard let string = value as? String else { throw BertError.field(path, key, "is \(value), not a string") }
            return string
        }
        let modelType = try text("model_type") ?? "bert"
        switch modelType {
        case "bert":
            family = .bert
            vocabularySize = try integer("vocab_size") ?? vocabularySize
            hiddenSize = try integer("hidden_size") ?? hiddenSize
            layerCount = try integer("num_hidden_layers") ?? layerCount
            headCount = try integer("num_attention_heads") ?? headCount
            intermediateSize = try integer("intermediate_size") ?? intermediateSize
            activation = try text("hidden_act") ?? activation
            maximumPositions = try integer("max_position_embeddings") ?? maximumPositions
            tokenTypeCount = try integer("type_vocab_size") ?? tokenTypeCount
            layerNormEpsilon = try real("layer_norm_eps") ?? layerNormEpsilon
            hiddenDropout = try real("hidden_dropout_prob") ?? hiddenDropout
            attentionDropout = try real("attention_probs_dropout_prob") ?? attentionDropout
            paddingTokenID = try integer("pad_token_id") ?? paddingTokenID
            if let positions = try text("position_embedding_type"), positions != "absolute" {
                throw BertError.field(path, "position_embedding_type", "is \"\(positions)\"; only \"absolute\" positions are implemented")
            }
        case "distilbert":
            family = .distilBERT
            vocabularySize = try integer("vocab_size") ?? vocabularySize
            hiddenSize = try integer("dim") ?? hiddenSize
            layerCount = try integer("n_layers") ?? 6
            headCount = try integer("n_heads") ?? headCount
            intermediateSize = try integer("hidden_dim") ?? intermediateSize
            activation = try text("activation") ?? activation
            maximumPositions = try integer("max_position_embeddings") ?? maximumPositions
            tokenTypeCount = 0
            layerNormEpsilon = 1e-12
            hiddenDropout = try real("dropout") ?? hiddenDropout
            attentionDropout = try real("attention_dropout") ?? attentionDropout
            paddingTokenID = try integer("pad_token_id") ?? paddingTokenID
            if try integer("sinusoidal_pos_embds").map({ $0 != 0 }) ?? false {
                throw BertError.field(path, "sinusoidal_pos_embds", "is set; only learned positions are implemented")
            }
        default:
            throw BertError.field(path, "model_type", "is \"\(modelType)\"; BertModel reads \"bert\" and \"distilbert\"")
        }
        try validate(path: path)
    }

    /// Checks the sizes fit together.
    func validate(path: String = "BertConfig") throws {
        for (name, value) in [("vocabulary size", vocabularySize), ("hidden size", hiddenSize), ("layer count", layerCount),
                              ("head count", headCount), ("intermediate size", intermediateSize),
                              ("maximum positions", maximumPositions)] where value <= 0 {
            throw BertError.field(path, name, "is \(value), not positive")
        }
        guard hiddenSize % headCount == 0 else {
            throw BertError.field(path, "num_attention_heads", "\(headCount) heads do not divide the hidden size \(hiddenSize)")
        }
        guard BertConfig.activations.contains(activation) else {
            throw BertError.field(path, "hidden_act", "is \"\(activation)\"; the encoder implements \(BertConfig.activations.sorted().joined(separator: ", "))")
        }
    }

    static let activations: Set<String> = ["gelu", "gelu_new", "gelu_pytorch_tanh", "relu"]
}

/// A model folder or weight file that cannot be used: which file, which field or key, why.
public enum BertError: Error, CustomStringConvertible, Equatable {
    /// A file is missing or unreadable.
    case file(String, String)
    /// A field of a file has a value the model cannot use.
    case field(String, String, String)
    /// The weights do not match the model: the keys missing from the file and those it has
    /// that the model lacks, every one of them, or a shape that differs.
    case weights(file: String, missing: [String], unexpected: [String], shapes: [String])

    public var description: String {
        switch self {
        case .file(let path, let reason): return "\(path): \(reason)"
        case .field(let path, let field, let reason): return "\(path): '\(field)' \(reason)"
        case .weights(let file, let missing, let unexpected, let shapes):
            var parts: [String] = []
            if !missing.isEmpty { parts.append("missing \(missing.count) key\(missing.count == 1 ? "" : "s"): \(missing.joined(separator: ", "))") }
            if !unexpected.isEmpty { parts.append("unexpected \(unexpected.count) key\(unexpected.count == 1 ? "" : "s"): \(unexpected.joined(separator: ", "))") }
            if !shapes.isEmpty { parts.append("shapes differ: \(shapes.joined(separator: ", "))") }
            return "\(file): the weights do not fit the model; " + parts.joined(separator: "; ")
        }
    }
}
